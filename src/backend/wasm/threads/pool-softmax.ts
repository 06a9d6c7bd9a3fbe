/**
 * Row softmax on views of a WasmThreadPool's shared memory (in a forward without hooks: the
 * attention scores in the backend's workspace, overwritten by the pattern), in place or into
 * another view, with the rows split over the pool's threads: a row job of the softmax kernel
 * (softmax-kernel.ts, which reads and writes only inside its rows). Each row is computed by the
 * same code as createWasmSoftmaxRows's, so results equal its bit for bit; a row that is entirely
 * −∞ clears a flag in the memory, returned as false. Anything else goes to `fallback`.
 */
import type { WasmThreadPool } from "./node-wasm-thread-pool.ts";
import type { PoolRowKernel } from "./pool-row-jobs.ts";
import { generateSoftmaxModule } from "../kernels/softmax-kernel.ts";
import type { WasmF32Buffer } from "../gemm/heap.ts";
import type { WasmSoftmaxRows } from "../wasm-softmax.ts";

export function createPoolSoftmaxRows(pool: WasmThreadPool, fallback: WasmSoftmaxRows): WasmSoftmaxRows {
  let kernel: PoolRowKernel | undefined;
  let flag: WasmF32Buffer | undefined;
  const sameOrApart = (x: Float32Array, out: Float32Array): boolean =>
    x.byteOffset === out.byteOffset || x.byteOffset + x.byteLength <= out.byteOffset || out.byteOffset + out.byteLength <= x.byteOffset;

  return (x, width, out) => {
    const n = x.length;
    const rows = n / width;
    const usable = Number.isInteger(width) && width >= 1 && n > 0 && out.length === n && Number.isInteger(rows);
    if (!usable || !pool.isMemoryView(x) || !pool.isMemoryView(out) || !sameOrApart(x, out)) return fallback(x, width, out);
    kernel ??= pool.rowKernel(generateSoftmaxModule({ sharedMemory: true }), "softmaxRowsFlagged");
    flag ??= pool.gemm.alloc(1);
    const ok = new Int32Array(pool.memory.buffer, flag.ptr, 1);
    ok[0] = 1;
    pool.runRows(kernel, rows, [x.byteOffset, out.byteOffset, rows, width, flag.ptr], {
      countArg: 2,
      rowStrides: [4 * width, 4 * width, 0, 0, 0],
      workPerRow: width,
    });
    return ok[0] === 1;
  };
}
