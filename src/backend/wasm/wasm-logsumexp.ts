/**
 * Row-wise log Σ exp of float32 matrices on the WebAssembly SIMD128 kernel of
 * logsumexp-kernel.ts (module bytes generated at run time; no Node built-ins, runs in Node ≥ 20
 * and Deno).
 *
 * `createLogSumExp()` returns `(values, rows, cols) => Float64Array` (or null without wasm SIMD):
 * result[r] = log Σ_j exp(values[r·cols + j]), computed as max + log(Σ exp(x − max)) with the
 * exps in f32 (≈1e-7 relative error each) and the sum accumulated in f64, so |error| ≲ 1e-6 on
 * the result. Rows with a NaN → NaN; otherwise a row with +∞ → +∞; a row of only −∞ (or cols = 0)
 * → −∞; −∞ entries otherwise contribute 0.
 *
 * The function owns one `WebAssembly.Memory`. The input is copied in a chunk of rows at a time
 * (≈1 MiB per chunk, at least one row), so the memory stays small and both kernel passes read
 * the chunk from cache; the copy costs a few percent of the exps.
 *
 * `createLogSumExpInMemory(memory)` is the same computation for rows that already live in a given
 * memory (e.g. a matmul backend's shared memory): it runs the kernel on them in place, no copy.
 */
import { InputError } from "../../errors.ts";
import { generateLogSumExpModule, type LogSumExpExports, type LogSumExpKernelOptions } from "./kernels/logsumexp-kernel.ts";
import { wasmSimdSupported } from "./simd-support.ts";
import type { WasmMemory } from "./wasm-api.ts";
import { isSharedBuffer, webAssembly } from "./wasm-api.ts";

/**
 * Generates and instantiates the log-sum-exp kernel against `memory`. Returns null when
 * WebAssembly SIMD is unavailable. For callers that manage pointers themselves (and for tests of
 * the raw `exp` export); see logsumexp-kernel.ts for the export contracts.
 */
export function instantiateLogSumExpKernel(
  memory: WasmMemory,
  options: Omit<LogSumExpKernelOptions, "sharedMemory"> = {},
): LogSumExpExports | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const bytes = generateLogSumExpModule({ ...options, sharedMemory: isSharedBuffer(memory.buffer) });
  const instance = new wa.Instance(new wa.Module(bytes), { env: { memory } });
  return instance.exports as unknown as LogSumExpExports;
}

export interface LogSumExpOptions {
  /** Kernel tuning (benchmarks / tests). */
  kernel?: Omit<LogSumExpKernelOptions, "sharedMemory">;
  /** Floats copied into wasm memory per kernel call (rounded to whole rows, ≥ 1 row; default 2^18). */
  chunkFloats?: number;
}

export type LogSumExpRows = (values: Float32Array, rows: number, cols: number) => Float64Array;

const PAGE_BYTES = 65536;
/** Input starts here (64-byte aligned; [0, 64) unused). */
const INPUT_BASE = 64;
/** Readable slack the kernel needs after the input (its masked tail load over-reads ≤ 12 bytes). */
export const LOG_SUM_EXP_TAIL_PAD = 16;
const TAIL_PAD = LOG_SUM_EXP_TAIL_PAD;
const MAX_PAGES = 65536;

function checkDim(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new InputError(`logSumExp: ${name}=${v} must be a non-negative integer`, "bad_shape");
}

/**
 * A row-wise log-sum-exp on WebAssembly SIMD, or null where wasm SIMD is unavailable. Each
 * returned function owns its memory (grown as needed, never shrunk); it is not reentrant-safe
 * across threads but may be called any number of times.
 */
export function createLogSumExp(options: LogSumExpOptions = {}): LogSumExpRows | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const memory = new wa.Memory({ initial: 1 });
  const kernel = instantiateLogSumExpKernel(memory, options.kernel ?? {});
  if (kernel === null) return null;
  const chunkFloats = Math.max(1, Math.floor(options.chunkFloats ?? 1 << 18));

  let f32: Float32Array | undefined;
  let f64: Float64Array | undefined;
  const ensure = (bytes: number): void => {
    const have = memory.buffer.byteLength;
    if (bytes > have) {
      const needPages = Math.ceil((bytes - have) / PAGE_BYTES);
      const havePages = have / PAGE_BYTES;
      if (havePages + needPages > MAX_PAGES) {
        throw new InputError(`logSumExp: a chunk needs ${bytes} bytes of wasm memory (more than 4 GiB)`, "bad_shape");
      }
      memory.grow(needPages);
    }
    if (f32 === undefined || f32.buffer !== memory.buffer) {
      f32 = new Float32Array(memory.buffer);
      f64 = new Float64Array(memory.buffer);
    }
  };

  return (values: Float32Array, rows: number, cols: number): Float64Array => {
    checkDim("rows", rows);
    checkDim("cols", cols);
    if (values.length !== rows * cols) {
      throw new InputError(`logSumExp: ${values.length} values are not ${rows} rows of ${cols}`, "bad_shape");
    }
    const result = new Float64Array(rows);
    if (rows === 0) return result;
    const chunkRows = Math.max(1, Math.min(rows, Math.floor(chunkFloats / Math.max(cols, 1))));
    const outBase = (INPUT_BASE + chunkRows * cols * 4 + TAIL_PAD + 15) & ~15;
    ensure(outBase + chunkRows * 16);
    const heap32 = f32!;
    const heap64 = f64!;
    // Zero the pad once: the tail lanes it feeds are masked, but keep them deterministic.
    heap32.fill(0, (INPUT_BASE >> 2) + chunkRows * cols, (INPUT_BASE + TAIL_PAD >> 2) + chunkRows * cols);
    for (let r0 = 0; r0 < rows; r0 += chunkRows) {
      const n = Math.min(chunkRows, rows - r0);
      heap32.set(values.subarray(r0 * cols, (r0 + n) * cols), INPUT_BASE >> 2);
      kernel.rowStats(INPUT_BASE, n, cols, outBase);
      const o = outBase >> 3;
      for (let r = 0; r < n; r++) result[r0 + r] = fromStats(heap64[o + 2 * r], heap64[o + 2 * r + 1]);
    }
    return result;
  };
}

/** log Σ exp of a row from rowStats' (max, Σ exp(x − max)). */
function fromStats(max: number, sum: number): number {
  return Number.isFinite(max) ? max + Math.log(sum) : max;
}

/**
 * `(values, rows, cols, stats) => Float64Array`: the log-sum-exp of rows that live in the memory,
 * read in place. `values` and `stats` must be views of that memory (for a shared memory also views
 * taken before it grew), not overlapping: `values` holds the rows and must be followed by
 * {@link LOG_SUM_EXP_TAIL_PAD} readable bytes of the memory (whatever they hold: the kernel masks
 * them out); `stats`, at least 2·rows float64s, is overwritten with the kernel's per-row output.
 */
export type LogSumExpInMemory = (values: Float32Array, rows: number, cols: number, stats: Float64Array) => Float64Array;

/**
 * The log-sum-exp kernel instantiated against `memory` (plain or shared), or null where wasm SIMD
 * is unavailable. Results are identical to {@link createLogSumExp}'s on the same values.
 */
export function createLogSumExpInMemory(memory: WasmMemory, options: Pick<LogSumExpOptions, "kernel"> = {}): LogSumExpInMemory | null {
  const kernel = instantiateLogSumExpKernel(memory, options.kernel ?? {});
  return kernel === null ? null : logSumExpInMemoryOn(memory, kernel.rowStats);
}

/**
 * {@link LogSumExpInMemory} on a given `rowStats` (the kernel's contract, see logsumexp-kernel.ts)
 * for rows in `memory`: e.g. the kernel run by several threads on parts of the rows.
 */
export function logSumExpInMemoryOn(memory: WasmMemory, rowStats: LogSumExpExports["rowStats"]): LogSumExpInMemory {
  const shared = isSharedBuffer(memory.buffer);
  const inMemory = (view: Float32Array | Float64Array, pad: number): boolean =>
    (shared ? isSharedBuffer(view.buffer) : view.buffer === memory.buffer) &&
    view.byteOffset + view.byteLength + pad <= memory.buffer.byteLength;
  return (values, rows, cols, stats) => {
    checkDim("rows", rows);
    checkDim("cols", cols);
    if (values.length !== rows * cols) {
      throw new InputError(`logSumExp: ${values.length} values are not ${rows} rows of ${cols}`, "bad_shape");
    }
    if (stats.length < 2 * rows) throw new InputError(`logSumExp: stats hold ${stats.length} float64s, need 2·${rows}`, "bad_shape");
    const result = new Float64Array(rows);
    if (rows === 0) return result;
    if (!inMemory(values, TAIL_PAD) || !inMemory(stats, 0)) {
      throw new InputError("logSumExp: values (followed by 16 readable bytes) and stats must be views of the kernel's memory", "foreign_buffer");
    }
    const statsEnd = stats.byteOffset + 16 * rows;
    if (values.byteOffset < statsEnd && stats.byteOffset < values.byteOffset + values.byteLength + TAIL_PAD) {
      throw new InputError("logSumExp: stats overlap the values", "bad_shape");
    }
    rowStats(values.byteOffset, rows, cols, stats.byteOffset);
    for (let r = 0; r < rows; r++) result[r] = fromStats(stats[2 * r], stats[2 * r + 1]);
    return result;
  };
}
