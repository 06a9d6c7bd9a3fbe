/**
 * The multi-threaded WebAssembly SIMD matmul backend (Node ≥ 20 and Deno): weights are packed into
 * a WasmThreadPool's shared memory once, and every large matmul is split across the pool's threads,
 * as are (row jobs) the log-sum-exp of rows in its workspace (productLogSumExp's blocks), gelu on
 * views of its memory (the forward's MLP buffer) and the attention scores, softmax and value
 * mixing on views of it (the forward's attention buffers, by (batch, head) plane or by row). Results are bit-identical to the single-threaded
 * "wasm-simd" backend.
 */
import { InputError } from "../../../errors.ts";
import type { Backend, PreparedWeight } from "../../backend.ts";
import { sharedMemoryWorkspace } from "../memory-workspace.ts";
import { WasmThreadPool, type WasmThreadPoolOptions } from "./node-wasm-thread-pool.ts";
import { createPoolAttention } from "./pool-attention.ts";
import { createPoolGelu } from "./pool-gelu.ts";
import { createPoolGeluBackward } from "./pool-gelu-backward.ts";
import { createPoolAttentionBackward } from "./pool-attention-backward.ts";
import { createPoolLogSumExp } from "./pool-logsumexp.ts";
import { createPoolSoftmaxRows } from "./pool-softmax.ts";
import { createWasmForwardKernels } from "../wasm-forward-kernels.ts";
import type { LogSumExpInMemory } from "../wasm-logsumexp.ts";
import { gatherPreparedColumns, type WasmPreparedWeight } from "../wasm-backend.ts";

export type ParallelWasmBackendOptions = WasmThreadPoolOptions;

/** A Backend named "wasm-simd×N" or, with fused multiply-adds, "wasm-simd-fma×N" (N = threads) that owns a worker pool. */
export interface ParallelWasmBackend extends Backend {
  readonly pool: WasmThreadPool;
  /**
   * Terminates the pool's workers (optional: they never keep a process alive). Models prepared on
   * this backend then fail with `pool_closed`; selectNodeBackend hands out a new backend afterwards.
   */
  close(): Promise<void>;
  /** True once close() was called. */
  readonly closed: boolean;
}

/**
 * Creates a worker pool (`threads` defaults to os.availableParallelism()) and a backend on it.
 * Returns null where WebAssembly SIMD or shared WebAssembly memory is unavailable.
 */
export function createParallelWasmBackend(options: ParallelWasmBackendOptions = {}): ParallelWasmBackend | null {
  const pool = WasmThreadPool.create(options);
  if (pool === null) return null;
  let logSumExp: LogSumExpInMemory | undefined;
  const workspace = {
    ...sharedMemoryWorkspace(pool.memory, (floats) => pool.allocView(floats), (buffer) => pool.gemm.free(buffer)),
    logSumExpRows: (values: Float32Array, cols: number, stats: Float64Array) =>
      (logSumExp ??= createPoolLogSumExp(pool))(values, values.length / cols, cols, stats),
  };
  const kernels = createWasmForwardKernels(workspace) ?? undefined;
  return {
    name: `${pool.gemm.relaxedSimd ? "wasm-simd-fma" : "wasm-simd"}×${pool.threads}`,
    ownsPreparedCopy: true,
    kernels: kernels && {
      ...kernels,
      geluNew: createPoolGelu(pool, (x, out) => kernels.geluNew!(x, out)),
      geluNewBackward: createPoolGeluBackward(pool, (pre, dPost, out) => kernels.geluNewBackward!(pre, dPost, out)),
      softmaxRows: createPoolSoftmaxRows(pool, (x, width, out) => kernels.softmaxRows!(x, width, out)),
      ...createPoolAttentionBackward(pool, workspace),
      ...createPoolAttention(pool, {
        attentionScores: (...args) => kernels.attentionScores!(...args),
        mixValues: (...args) => kernels.mixValues!(...args),
      }),
    },
    workspace,
    pool,
    prepare(w, inDim, outDim): WasmPreparedWeight {
      return { inDim, outDim, rowMajor: w, transposed: null, packed: pool.pack(w, inDim, outDim) };
    },
    prepareTransposed(wt, outDim, inDim): WasmPreparedWeight {
      return { inDim, outDim, rowMajor: null, transposed: wt, packed: pool.packTransposed(wt, outDim, inDim) };
    },
    matmul(a, m, w, out, bias, spare) {
      const packed = (w as Partial<WasmPreparedWeight>).packed;
      if (!packed || !pool.owns(packed)) {
        throw new InputError(`${this.name} backend: weight was prepared by another backend`, "foreign_weight");
      }
      pool.matmul(a, m, packed, out, bias ?? undefined, false, spare);
    },
    release(w) {
      const packed = (w as Partial<WasmPreparedWeight>).packed;
      if (!packed || !pool.owns(packed)) {
        throw new InputError(`${this.name} backend: weight was not prepared by this backend (or was released)`, "foreign_weight");
      }
      pool.free(packed);
    },
    gatherColumns: gatherPreparedColumns,
    close: () => pool.close(),
    get closed() {
      return pool.isClosed;
    },
  };
}
