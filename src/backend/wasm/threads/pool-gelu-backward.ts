/**
 * The backward of gelu_new on views of a WasmThreadPool's shared memory, read and written in place
 * with the elements split over the pool's threads: a row job of gelu-backward-kernel.ts whose rows
 * are f32x4 vectors. Each lane is computed by the same code whatever the split, so results equal
 * createWasmGeluBackward's bit for bit. Operands that are plain arrays (e.g. the forward's cached
 * mlp.hook_pre) are staged through a buffer of the memory a chunk at a time. Anything else (partly
 * overlapping operands, a length that is not a multiple of 4) goes to `fallback`.
 */
import { generateGeluBackwardModule } from "../kernels/gelu-backward-kernel.ts";
import type { WasmThreadPool } from "./node-wasm-thread-pool.ts";
import type { PoolRowKernel } from "./pool-row-jobs.ts";
import type { WasmF32Buffer } from "../gemm/heap.ts";
import { checkGeluBackward, type WasmGeluBackward } from "../wasm-gelu-backward.ts";

const LANES = 4;
/** Floats per staged chunk (a multiple of 4). */
const STAGE_CHUNK = 1 << 18;

export function createPoolGeluBackward(pool: WasmThreadPool, fallback: WasmGeluBackward): WasmGeluBackward {
  let kernel: PoolRowKernel | undefined;
  const sameOrApart = (a: Float32Array, b: Float32Array): boolean =>
    a.byteOffset === b.byteOffset || a.byteOffset + a.byteLength <= b.byteOffset || b.byteOffset + b.byteLength <= a.byteOffset;
  let staging: WasmF32Buffer | undefined;
  const run = (pre: Float32Array, dPost: Float32Array, out: Float32Array): void => {
    kernel ??= pool.rowKernel(generateGeluBackwardModule({ sharedMemory: true }), "geluBackward");
    const vectors = pre.length / LANES;
    pool.runRows(kernel, vectors, [pre.byteOffset, dPost.byteOffset, out.byteOffset, vectors], {
      countArg: 3, rowStrides: [4 * LANES, 4 * LANES, 4 * LANES, 0], workPerRow: LANES,
    });
  };
  return (pre, dPost, out) => {
    checkGeluBackward(pre, dPost, out);
    const n = pre.length;
    if (n === 0 || n % LANES !== 0 || !sameOrApart(pre, out) || !sameOrApart(dPost, out)) {
      fallback(pre, dPost, out);
      return;
    }
    if ([pre, dPost, out].every((a) => pool.isMemoryView(a))) {
      run(pre, dPost, out);
      return;
    }
    // Each chunk's operands are staged (or used in place) before its results are stored.
    staging ??= pool.gemm.alloc(3 * STAGE_CHUNK);
    for (let i0 = 0; i0 < n; i0 += STAGE_CHUNK) {
      const len = Math.min(STAGE_CHUNK, n - i0);
      const all = staging.view();
      const part = (a: Float32Array, slot: number): Float32Array => {
        const chunk = a.subarray(i0, i0 + len);
        if (pool.isMemoryView(chunk)) return chunk;
        const view = all.subarray(slot * STAGE_CHUNK, slot * STAGE_CHUNK + len);
        view.set(chunk);
        return view;
      };
      const p = part(pre, 0), g = part(dPost, 1);
      const o = pool.isMemoryView(out) ? out.subarray(i0, i0 + len) : all.subarray(2 * STAGE_CHUNK, 2 * STAGE_CHUNK + len);
      run(p, g, o);
      if (o.buffer !== out.buffer) out.set(o, i0);
    }
  };
}
