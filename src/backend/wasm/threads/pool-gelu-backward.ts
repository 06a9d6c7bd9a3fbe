/**
 * The backward of gelu_new on views of a WasmThreadPool's shared memory, read and written in place
 * with the elements split over the pool's threads: a row job of gelu-backward-kernel.ts whose rows
 * are f32x4 vectors. Each lane is computed by the same code whatever the split, so results equal
 * createWasmGeluBackward's bit for bit. Anything else (plain arrays, partly overlapping views, a
 * length that is not a multiple of 4) goes to `fallback`.
 */
import { generateGeluBackwardModule } from "../kernels/gelu-backward-kernel.ts";
import type { WasmThreadPool } from "./node-wasm-thread-pool.ts";
import type { PoolRowKernel } from "./pool-row-jobs.ts";
import { checkGeluBackward, type WasmGeluBackward } from "../wasm-gelu-backward.ts";

const LANES = 4;

export function createPoolGeluBackward(pool: WasmThreadPool, fallback: WasmGeluBackward): WasmGeluBackward {
  let kernel: PoolRowKernel | undefined;
  const sameOrApart = (a: Float32Array, b: Float32Array): boolean =>
    a.byteOffset === b.byteOffset || a.byteOffset + a.byteLength <= b.byteOffset || b.byteOffset + b.byteLength <= a.byteOffset;
  return (pre, dPost, out) => {
    checkGeluBackward(pre, dPost, out);
    const n = pre.length;
    const inMemory = [pre, dPost, out].every((a) => pool.isMemoryView(a));
    if (n === 0 || n % LANES !== 0 || !inMemory || !sameOrApart(pre, out) || !sameOrApart(dPost, out)) {
      fallback(pre, dPost, out);
      return;
    }
    kernel ??= pool.rowKernel(generateGeluBackwardModule({ sharedMemory: true }), "geluBackward");
    const vectors = n / LANES;
    pool.runRows(kernel, vectors, [pre.byteOffset, dPost.byteOffset, out.byteOffset, vectors], {
      countArg: 3, rowStrides: [4 * LANES, 4 * LANES, 4 * LANES, 0], workPerRow: LANES,
    });
  };
}
