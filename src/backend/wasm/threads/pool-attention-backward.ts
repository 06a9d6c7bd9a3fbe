/**
 * The attention backward kernels (wasm-attention-backward.ts) with their (batch, head) planes, or
 * the softmax backward's rows, split over a WasmThreadPool's threads as row jobs. Every plane and
 * row is computed by the same code whatever the split, so results equal the single-threaded
 * kernels' bit for bit.
 */
import { generateAttentionBackwardModule, type AttentionBackwardFunction } from "../kernels/attention-backward-kernel.ts";
import type { MemoryWorkspace } from "../memory-workspace.ts";
import { type AttentionBackwardKernels, createWasmAttentionBackward } from "../wasm-attention-backward.ts";
import type { WasmThreadPool } from "./node-wasm-thread-pool.ts";
import type { PoolRowKernel } from "./pool-row-jobs.ts";

/** Arguments of each function: which is the count, which the first plane (row stride 1), per-row byte strides. */
const LAYOUT: Record<AttentionBackwardFunction, (args: readonly number[]) => { countArg: number; rowStrides: number[] }> = {
  mixBackwardPlanes: () => ({ countArg: 6, rowStrides: [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0] }),
  scoresBackwardPlanes: () => ({ countArg: 6, rowStrides: [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0] }),
  softmaxBackwardRows: (args) => ({ countArg: 3, rowStrides: [4 * args[4]!, 4 * args[4]!, 4 * args[4]!, 0, 0] }),
};

/** `workspace` must be the one over the pool's memory. */
export function createPoolAttentionBackward(pool: WasmThreadPool, workspace: MemoryWorkspace): AttentionBackwardKernels | null {
  const kernels = new Map<AttentionBackwardFunction, PoolRowKernel>();
  let bytes: Uint8Array<ArrayBuffer> | undefined;
  return createWasmAttentionBackward(workspace, (fn, count, args, work) => {
    let kernel = kernels.get(fn);
    if (kernel === undefined) {
      kernel = pool.rowKernel((bytes ??= generateAttentionBackwardModule()), fn);
      kernels.set(fn, kernel);
    }
    pool.runRows(kernel, count, args, { ...LAYOUT[fn](args), workPerRow: work });
  });
}
