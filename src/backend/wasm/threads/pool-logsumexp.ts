/**
 * The log-sum-exp of rows in a WasmThreadPool's shared memory with the rows split over the pool's
 * threads (a row job of the rowStats kernel, logsumexp-kernel.ts). Each row is computed by the
 * same kernel code as on one thread, so the results equal createLogSumExpInMemory's bit for bit.
 */
import { generateLogSumExpModule } from "../kernels/logsumexp-kernel.ts";
import type { WasmThreadPool } from "./node-wasm-thread-pool.ts";
import { type LogSumExpInMemory, logSumExpInMemoryOn } from "../wasm-logsumexp.ts";

/** Bytes of rowStats output per row (max and sum, two f64s). */
const STATS_BYTES = 16;

export function createPoolLogSumExp(pool: WasmThreadPool): LogSumExpInMemory {
  const kernel = pool.rowKernel(generateLogSumExpModule({ sharedMemory: true }), "rowStats");
  return logSumExpInMemoryOn(pool.memory, (src, rows, cols, out) =>
    pool.runRows(kernel, rows, [src, rows, cols, out], { countArg: 1, rowStrides: [4 * cols, 0, 0, STATS_BYTES], workPerRow: cols }),
  );
}
