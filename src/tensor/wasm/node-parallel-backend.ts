/**
 * The multi-threaded WebAssembly SIMD matmul backend (Node ≥ 20 and Deno): weights are packed into
 * a NodeGemmPool's shared memory once, and every large matmul is split across the pool's threads.
 * Results are bit-identical to the single-threaded "wasm-simd" backend.
 */
import { InputError } from "../../errors.ts";
import type { BackendWorkspace, MatmulBackend, PreparedWeight } from "../matmul.ts";
import { NodeGemmPool, type NodeGemmPoolOptions } from "./node-gemm-pool.ts";
import { createWasmForwardKernels } from "./wasm-forward-kernels.ts";
import type { PackedMatrix, WasmF32Buffer } from "./wasm-gemm.ts";

export type ParallelWasmBackendOptions = NodeGemmPoolOptions;

/** A MatmulBackend named "wasm-simd×N" (N = threads) that owns a worker pool. */
export interface ParallelWasmBackend extends MatmulBackend {
  readonly pool: NodeGemmPool;
  /** Terminates the pool's workers (optional: they never keep a process alive). */
  close(): Promise<void>;
}

interface PoolPreparedWeight extends PreparedWeight {
  readonly packed: PackedMatrix;
}

/**
 * Creates a worker pool (`threads` defaults to os.availableParallelism()) and a backend on it.
 * Returns null where WebAssembly SIMD or shared WebAssembly memory is unavailable.
 */
export function createParallelWasmBackend(options: ParallelWasmBackendOptions = {}): ParallelWasmBackend | null {
  const pool = NodeGemmPool.create(options);
  if (pool === null) return null;
  return {
    name: `wasm-simd×${pool.threads}`,
    ownsPreparedCopy: true,
    kernels: createWasmForwardKernels() ?? undefined,
    workspace: poolWorkspace(pool),
    pool,
    prepare(w, inDim, outDim): PoolPreparedWeight {
      return { inDim, outDim, rowMajor: w, transposed: null, packed: pool.pack(w, inDim, outDim) };
    },
    prepareTransposed(wt, outDim, inDim): PoolPreparedWeight {
      return { inDim, outDim, rowMajor: null, transposed: wt, packed: pool.packTransposed(wt, outDim, inDim) };
    },
    matmul(a, m, w, out, bias) {
      const packed = (w as Partial<PoolPreparedWeight>).packed;
      if (!packed || !pool.owns(packed)) {
        throw new InputError(`${this.name} backend: weight was prepared by another backend`, "foreign_weight");
      }
      pool.matmul(a, m, packed, out, bias ?? undefined);
    },
    release(w) {
      const packed = (w as Partial<PoolPreparedWeight>).packed;
      if (!packed || !pool.owns(packed)) {
        throw new InputError(`${this.name} backend: weight was not prepared by this backend (or was released)`, "foreign_weight");
      }
      pool.free(packed);
    },
    close: () => pool.close(),
  };
}

/** Workspace buffers in the pool's shared memory (views of a shared memory survive its growth). */
function poolWorkspace(pool: NodeGemmPool): BackendWorkspace {
  const live = new Map<Float32Array, WasmF32Buffer>();
  return {
    alloc(floats) {
      const { view, buffer } = pool.allocView(floats);
      live.set(view, buffer);
      return view;
    },
    release(view) {
      const buffer = live.get(view);
      if (buffer === undefined) throw new InputError("workspace.release: not a live buffer of this workspace", "foreign_buffer");
      live.delete(view);
      pool.gemm.free(buffer);
    },
  };
}
