/**
 * The one interface the model runs its numerics on. Implementations: the reference backend (plain
 * TypeScript, reference/), the single-threaded WebAssembly SIMD backend and the one on a worker pool
 * (wasm/). Code above this folder sees only these types; what a backend keeps inside a prepared
 * weight (packed panels in WebAssembly memory, ...) is its own business.
 */
import type { BackwardKernels } from "../tensor/backward-kernels.ts";
import type { ForwardKernels } from "../tensor/forward-kernels.ts";
import type { WasmMemory } from "./wasm/wasm-api.ts";

/**
 * A weight matrix W [inDim, outDim] prepared once for a particular backend (packed panels, a copy
 * in WebAssembly memory, or just the row-major array for the reference backend). Opaque beyond
 * these fields: only the backend that prepared it can multiply by it.
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

/**
 * The kernels the model runs on. Backends are objects, never global state. Besides the matmuls:
 * `kernels` (LayerNorm, gelu, attention, softmax, residual adds), `workspace` (log-sum-exp rows
 * and affine rows in place, see log-sum-exp.ts and affine-rows.ts), `gatherColumns` (embedding
 * rows from a prepared unembedding) and `close`. Every optional member has a plain-TypeScript
 * fallback with the same numbers, so a backend may implement only the matmuls.
 */
export interface Backend {
  readonly name: string;
  /**
   * True when prepare()/prepareTransposed() copy the weight into the backend's own storage (e.g.
   * packed panels in WebAssembly memory) and matmul() never reads `rowMajor`/`transposed`: callers
   * may then drop the plain arrays (Gpt2Model does, to hold only one copy of the weights).
   */
  readonly ownsPreparedCopy?: boolean;
  /** Buffers its matmuls use in place; absent where there is no such memory (then plain arrays). */
  readonly workspace?: BackendWorkspace;
  /** Fast kernels for the forward and backward passes' non-GEMM work (attention, ...); absent = plain TypeScript. */
  readonly kernels?: ForwardKernels & BackwardKernels;
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
  /**
   * out[i·inDim … (i+1)·inDim) = column cols[i] of W [inDim, outDim], read from the backend's own
   * copy of a weight it prepared (for the tied unembedding W_U = W_Eᵀ: token-embedding rows, without
   * a plain copy of W_E). Columns must be integers in [0, outDim). Absent: read the plain array.
   */
  gatherColumns?(w: PreparedWeight, cols: ArrayLike<number>, out: Float32Array): void;
  /**
   * Stops what the backend runs beside the caller (a worker pool's threads); weights prepared on it
   * cannot be used afterwards. Absent: nothing to stop.
   */
  close?(): Promise<void>;
}

/** The name the interface had before it covered more than matmuls. */
export type MatmulBackend = Backend;
