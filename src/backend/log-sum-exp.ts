/** Row-wise log Σ exp (softmax normalisers) on the WebAssembly SIMD kernel or in float64 JS. */
import { InputError } from "../errors.ts";
import type { WasmMemory } from "./wasm/wasm-api.ts";
import { createLogSumExp, createLogSumExpInMemory, type LogSumExpInMemory, type LogSumExpRows } from "./wasm/wasm-logsumexp.ts";

export { LOG_SUM_EXP_TAIL_PAD } from "./wasm/wasm-logsumexp.ts";

/** The WebAssembly SIMD kernel, created on first use; null when wasm SIMD is unavailable. */
let wasmLogSumExp: LogSumExpRows | null | undefined;

function wasmKernel(): LogSumExpRows | null {
  if (wasmLogSumExp === undefined) {
    try {
      wasmLogSumExp = createLogSumExp();
    } catch {
      wasmLogSumExp = null;
    }
  }
  return wasmLogSumExp;
}

/**
 * log Σ exp over each row of `logits` `[batch, vocab]` → `[batch]`. A Float32Array goes through
 * the WebAssembly SIMD kernel (f32 exps with ≈1e-7 relative error, f64 sums: |error| ≲ 1e-6)
 * where available; anything else, or no wasm SIMD, takes the float64 Math.exp loop. A row with a
 * NaN gives NaN, else a row with +∞ gives +∞, a row of only −∞ gives −∞.
 */
export function logSumExpRows(logits: ArrayLike<number>, vocab: number): Float64Array {
  const batch = rowCount(logits.length, vocab, "logits");
  if (logits instanceof Float32Array) {
    const kernel = wasmKernel();
    if (kernel !== null) return kernel(logits, batch, vocab);
  }
  const result = new Float64Array(batch);
  for (let row = 0; row < batch; row++) {
    const start = row * vocab;
    let max = -Infinity;
    for (let i = start; i < start + vocab; i++) {
      const v = logits[i];
      if (v > max) max = v;
      else if (v !== v) {
        max = NaN;
        break;
      }
    }
    if (!Number.isFinite(max)) {
      result[row] = max;
      continue;
    }
    let sum = 0;
    for (let i = start; i < start + vocab; i++) sum += Math.exp(logits[i] - max);
    result[row] = max + Math.log(sum);
  }
  return result;
}

/** The kernel instantiated against each memory it was asked to read in place (null: no wasm SIMD). */
const inMemoryKernels = new WeakMap<WasmMemory, LogSumExpInMemory | null>();

/**
 * logSumExpRows of rows that already live in a WebAssembly memory (e.g. a matmul backend's
 * workspace), read there in place instead of being copied into the kernel's own memory; same
 * results. `logits` must be a view of `memory` followed by {@link LOG_SUM_EXP_TAIL_PAD} readable
 * bytes of it, `stats` a view of `memory` of ≥ 2·batch float64s that the kernel overwrites (see
 * LogSumExpInMemory). Without wasm SIMD this is logSumExpRows(logits, vocab).
 */
export function logSumExpRowsInMemory(memory: WasmMemory, logits: Float32Array, vocab: number, stats: Float64Array): Float64Array {
  const batch = rowCount(logits.length, vocab, "logits");
  let kernel = inMemoryKernels.get(memory);
  if (kernel === undefined) {
    try {
      kernel = wasmKernel() === null ? null : createLogSumExpInMemory(memory);
    } catch {
      kernel = null; // e.g. a memory the kernel cannot import: copy instead
    }
    inMemoryKernels.set(memory, kernel);
  }
  return kernel === null ? logSumExpRows(logits, vocab) : kernel(logits, batch, vocab, stats);
}

function rowCount(length: number, rowLength: number, what: string): number {
  if (!Number.isInteger(rowLength) || rowLength <= 0) {
    throw new InputError(`${what}: row length must be a positive integer, got ${rowLength}`, "bad_shape");
  }
  if (length === 0 || length % rowLength !== 0) {
    throw new InputError(`${what} have ${length} values, not a whole number (≥ 1) of rows of ${rowLength}`, "bad_shape");
  }
  return length / rowLength;
}
