/**
 * gelu_new on views of a WasmThreadPool's shared memory (e.g. the forward's MLP activations in the
 * backend's workspace), read and written in place with the elements split over the pool's threads:
 * a row job of the gelu kernel (gelu-kernel.ts) whose rows are f32x4 vectors. The kernel computes
 * each lane by the same code whatever the split, so results equal createWasmGelu's bit for bit.
 * Plain arrays (e.g. a cached forward's mlp.hook_pre and hook_post) are staged through a buffer of
 * the memory a chunk at a time and run on the pool too.
 */
import { InputError } from "../../../errors.ts";
import { generateGeluModule } from "../kernels/gelu-kernel.ts";
import type { WasmThreadPool } from "./node-wasm-thread-pool.ts";
import type { PoolRowKernel } from "./pool-row-jobs.ts";
import type { WasmGelu } from "../wasm-gelu.ts";
import { overlapsPartially } from "../wasm-api.ts";

/** Floats per staged chunk of plain arrays (a multiple of 4). */
const STAGE_CHUNK = 1 << 20;
import type { WasmF32Buffer } from "../gemm/heap.ts";

/** Floats per kernel "row" (one f32x4 vector). */
const LANES = 4;

/**
 * gelu_new(x) into `out` on the pool when both are views of its memory, the same view or apart;
 * anything else (plain arrays, partly overlapping views) goes to `fallback`.
 */
export function createPoolGelu(pool: WasmThreadPool, fallback: WasmGelu): WasmGelu {
  let kernel: PoolRowKernel | undefined;
  /** One vector of the memory for the last, partial vector (the kernel reads and writes whole ones). */
  let tail: WasmF32Buffer | undefined;
  let staging: WasmF32Buffer | undefined;
  const apart = (x: Float32Array, out: Float32Array): boolean =>
    x.byteOffset === out.byteOffset || x.byteOffset + x.byteLength <= out.byteOffset || out.byteOffset + out.byteLength <= x.byteOffset;

  const gelu: WasmGelu = (x, out) => {
    const n = x.length;
    if (out.length !== n) throw new InputError(`geluNew: output length ${out.length} differs from input length ${n}`, "bad_shape");
    if (n === 0) return;
    const inMemory = pool.isMemoryView(x) && pool.isMemoryView(out);
    if (inMemory && !apart(x, out)) {
      fallback(x, out);
      return;
    }
    if (!inMemory) {
      if (n < STAGE_CHUNK || overlapsPartially(x, out)) {
        fallback(x, out);
        return;
      }
      staging ??= pool.gemm.alloc(STAGE_CHUNK);
      for (let i0 = 0; i0 < n; i0 += STAGE_CHUNK) {
        const view = staging.view().subarray(0, Math.min(STAGE_CHUNK, n - i0));
        view.set(x.subarray(i0, i0 + view.length));
        gelu(view, view);
        out.set(view, i0);
      }
      return;
    }
    kernel ??= pool.rowKernel(generateGeluModule({ sharedMemory: true }), "gelu");
    const vectors = Math.floor(n / LANES);
    const layout = { countArg: 2, rowStrides: [4 * LANES, 4 * LANES, 0], workPerRow: LANES };
    pool.runRows(kernel, vectors, [x.byteOffset, out.byteOffset, vectors], layout);
    const done = vectors * LANES;
    if (done < n) {
      tail ??= pool.gemm.alloc(LANES);
      const lanes = tail.view().subarray(0, LANES);
      lanes.fill(0);
      lanes.set(x.subarray(done));
      pool.runRows(kernel, 1, [tail.ptr, tail.ptr, 1], layout);
      out.set(lanes.subarray(0, n - done), done);
    }
  };
  return gelu;
}
