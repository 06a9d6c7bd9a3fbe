import { InputError } from "../errors.ts";
import type { ForwardKernels } from "./forward-kernels.ts";
import { matmulRowMajor, matmulTransposed } from "./reference-kernels.ts";
import { shapeToString, Tensor } from "./tensor.ts";
import type { WasmMemory } from "../backend/wasm/wasm-api.ts";

/**
 * A weight matrix W [inDim, outDim] prepared once for a particular kernel backend (packed panels,
 * a copy in WebAssembly memory, or just the row-major array for the reference backend).
 */
export interface PreparedWeight {
  readonly inDim: number;
  readonly outDim: number;
  /** The row-major [inDim, outDim] values, or null when only a transposed copy is kept. */
  readonly rowMajor: Float32Array | null;
  /** The row-major [outDim, inDim] values of Wᵀ when the weight was given transposed. */
  readonly transposed: Float32Array | null;
}

/**
 * Float32 buffers in a backend's own memory, which its matmuls read and write in place (no staging
 * copies in or out): e.g. a forward pass's intermediates that no hook or cache holds.
 */
export interface BackendWorkspace {
  /**
   * `floats` floats (contents unspecified). The view stays valid, even when the backend's memory
   * grows, until it is released; it must not be used afterwards.
   */
  alloc(floats: number): Float32Array;
  /** Returns a view from {@link alloc} to the backend. */
  release(view: Float32Array): void;
  /**
   * The WebAssembly memory the views address, when there is one: kernels instantiated on it (e.g.
   * the log-sum-exp) can then read the buffers in place.
   */
  readonly memory?: WasmMemory;
  /** True when `view` is a non-empty view of {@link memory} (its byteOffset is then its address there). */
  holds?(view: Float32Array): boolean;
  /**
   * The log-sum-exp of each row of `values` [rows, cols], read in place, as logSumExpRowsInMemory
   * (log-sum-exp.ts) on {@link memory} computes it, bit for bit — e.g. with the rows split over
   * threads. Same contract: `values` is a view of the memory followed by LOG_SUM_EXP_TAIL_PAD
   * readable bytes of it; `stats`, ≥ 2·rows float64s of it not overlapping them, is overwritten.
   * Absent: callers use logSumExpRowsInMemory.
   */
  logSumExpRows?(values: Float32Array, cols: number, stats: Float64Array): Float64Array;
}

/** The matrix-multiply kernels the model runs on. Backends are objects, never global state. */
export interface MatmulBackend {
  readonly name: string;
  /**
   * True when prepare()/prepareTransposed() copy the weight into the backend's own storage (e.g.
   * packed panels in WebAssembly memory) and matmul() never reads `rowMajor`/`transposed`: callers
   * may then drop the plain arrays (Gpt2Model does, to hold only one copy of the weights).
   */
  readonly ownsPreparedCopy?: boolean;
  /** Buffers its matmuls use in place; absent where there is no such memory (then plain arrays). */
  readonly workspace?: BackendWorkspace;
  /** Fast kernels for the forward pass's non-GEMM work (attention, ...); absent = plain TypeScript. */
  readonly kernels?: ForwardKernels;
  /** W given as [inDim, outDim] row-major. */
  prepare(w: Float32Array, inDim: number, outDim: number): PreparedWeight;
  /** W given as Wᵀ [outDim, inDim] row-major (e.g. the tied unembedding W_U = W_Eᵀ). */
  prepareTransposed(wt: Float32Array, outDim: number, inDim: number): PreparedWeight;
  /**
   * Frees the backend's copy of a weight prepared by this backend (e.g. a temporary product packed
   * for a few matmuls); the weight must not be used afterwards. Absent: nothing to free.
   */
  release?(w: PreparedWeight): void;
  /**
   * out[m, outDim] = a[m, inDim] · W (+ bias). `out` is overwritten. `spare`: buffers of the
   * workspace whose contents are dead, which the product may overwrite, e.g. to stage an ordinary
   * `out` through memory already in use instead of memory of its own.
   */
  matmul(a: Float32Array, m: number, w: PreparedWeight, out: Float32Array, bias?: Float32Array | null, spare?: readonly Float32Array[]): void;
}

export const referenceBackend: MatmulBackend = {
  name: "reference",
  prepare(w, inDim, outDim) {
    checkLength("weight", w, inDim * outDim);
    return { inDim, outDim, rowMajor: w, transposed: null };
  },
  prepareTransposed(wt, outDim, inDim) {
    checkLength("transposed weight", wt, inDim * outDim);
    return { inDim, outDim, rowMajor: null, transposed: wt };
  },
  matmul(a, m, w, out, bias) {
    if (w.rowMajor) matmulRowMajor(a, m, w.inDim, w.rowMajor, w.outDim, out, bias ?? null);
    else matmulTransposed(a, m, w.inDim, w.transposed!, w.outDim, out, bias ?? null);
  },
};

function checkLength(what: string, values: Float32Array, expected: number): void {
  if (values.length !== expected) {
    throw new InputError(`${what} has ${values.length} values, expected ${expected}`, "shape_mismatch");
  }
}

/**
 * x [..., inDim] · W [inDim, outDim] (+ bias) → [..., outDim], into `out` when given (it must hold
 * exactly that many values and not overlap x).
 */
export function linear(
  backend: MatmulBackend, x: Tensor, w: PreparedWeight, bias?: Float32Array | null, out?: Float32Array, spare?: readonly Float32Array[],
): Tensor {
  const inDim = x.shape[x.rank - 1];
  if (inDim !== w.inDim) {
    throw new InputError(`linear: input ${shapeToString(x.shape)} does not end in ${w.inDim}`, "shape_mismatch");
  }
  const rows = x.size / w.inDim;
  if (out !== undefined && out.length !== rows * w.outDim) {
    throw new InputError(`linear: output buffer holds ${out.length} values, expected ${rows}·${w.outDim}`, "shape_mismatch");
  }
  out ??= new Float32Array(rows * w.outDim);
  backend.matmul(x.data, rows, w, out, bias, spare);
  return new Tensor(out, [...x.shape.slice(0, -1), w.outDim]);
}

/**
 * Batched matrix product over matching leading axes: a [..., m, k] · b [..., k, n] → [..., m, n]
 * (e.g. attention scores q·kᵀ per batch and head after a permute).
 */
export function batchedMatmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank < 2 || b.rank !== a.rank || a.shape.slice(0, -2).some((d, i) => d !== b.shape[i])) {
    throw new InputError(
      `batchedMatmul: shapes ${shapeToString(a.shape)} and ${shapeToString(b.shape)} need equal leading axes and rank ≥ 2`,
      "shape_mismatch",
    );
  }
  const m = a.shape[a.rank - 2]!, k = a.shape[a.rank - 1]!, n = b.shape[b.rank - 1]!;
  if (b.shape[b.rank - 2] !== k) {
    throw new InputError(`batchedMatmul: inner sizes differ, ${shapeToString(a.shape)} · ${shapeToString(b.shape)}`, "shape_mismatch");
  }
  const batches = a.size / (m * k || 1);
  const out = new Float32Array(batches * m * n);
  for (let i = 0; i < batches; i++) {
    matmulRowMajor(
      a.data.subarray(i * m * k, (i + 1) * m * k), m, k, b.data.subarray(i * k * n, (i + 1) * k * n), n,
      out.subarray(i * m * n, (i + 1) * m * n), null,
    );
  }
  return new Tensor(out, [...a.shape.slice(0, -1), n]);
}
