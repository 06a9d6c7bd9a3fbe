/**
 * Attention scores and value mixing on views of a WasmThreadPool's shared memory (in a forward
 * without hooks: the q, k, v, scores and z buffers of the backend's workspace), read and written
 * in place with the (batch, head) planes split over the pool's threads: row jobs of
 * attention-planes-kernel.ts, each thread with its own packing scratch. Every plane is computed by
 * WasmAttention's code, so results equal its bit for bit. Anything else (plain arrays, an output
 * overlapping an input, bad shapes) goes to `fallback`.
 */
import type { ForwardKernels } from "../../../tensor/forward-kernels.ts";
import { attentionScratchFloats } from "../kernels/attention-kernel.ts";
import { generateAttentionPlanesModule, type PlaneFunction } from "../kernels/attention-planes-kernel.ts";
import type { WasmThreadPool } from "./node-wasm-thread-pool.ts";
import type { PoolRowKernel } from "./pool-row-jobs.ts";

export type AttentionKernels = Required<Pick<ForwardKernels, "attentionScores" | "mixValues">>;

const apart = (x: Float32Array, y: Float32Array): boolean =>
  x.byteOffset + x.byteLength <= y.byteOffset || y.byteOffset + y.byteLength <= x.byteOffset;

export function createPoolAttention(pool: WasmThreadPool, fallback: AttentionKernels): AttentionKernels {
  let kernels: Record<PlaneFunction, PoolRowKernel> | undefined;
  const kernel = (name: PlaneFunction): PoolRowKernel => {
    if (kernels === undefined) {
      const bytes = generateAttentionPlanesModule();
      kernels = { scoresPlanes: pool.rowKernel(bytes, "scoresPlanes"), mixPlanes: pool.rowKernel(bytes, "mixPlanes") };
    }
    return kernels[name];
  };

  /** Runs `name` on every plane when the operands are in the memory with the expected sizes; else false. */
  const run = (
    name: PlaneFunction, [a, b, out]: readonly [Float32Array, Float32Array, Float32Array], lengths: readonly [number, number, number],
    batch: number, pos: number, keys: number, nHeads: number, dHead: number,
  ): boolean => {
    const dims = [batch, pos, keys, nHeads, dHead];
    if (!dims.every((d) => Number.isInteger(d) && d >= 1)) return false;
    if (a.length !== lengths[0] || b.length !== lengths[1] || out.length !== lengths[2]) return false;
    if (![a, b, out].every((x) => pool.isMemoryView(x)) || !apart(out, a) || !apart(out, b)) return false;
    const planes = batch * nHeads;
    pool.runRows(kernel(name), planes, [a.byteOffset, b.byteOffset, out.byteOffset, 0, planes, pos, keys, nHeads, dHead, 0], {
      countArg: 4,
      rowStrides: [0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
      workPerRow: pos * keys * dHead,
      scratch: { arg: 9, bytes: 4 * attentionScratchFloats(pos, keys, dHead) },
    });
    return true;
  };

  return {
    attentionScores(q, k, batch, pos, keys, nHeads, dHead, out) {
      const d = nHeads * dHead;
      if (!run("scoresPlanes", [q, k, out], [batch * pos * d, batch * keys * d, batch * nHeads * pos * keys], batch, pos, keys, nHeads, dHead)) {
        fallback.attentionScores(q, k, batch, pos, keys, nHeads, dHead, out);
      }
    },
    mixValues(pattern, v, batch, pos, keys, nHeads, dHead, out) {
      const d = nHeads * dHead;
      if (!run("mixPlanes", [pattern, v, out], [batch * nHeads * pos * keys, batch * keys * d, batch * pos * d], batch, pos, keys, nHeads, dHead)) {
        fallback.mixValues(pattern, v, batch, pos, keys, nHeads, dHead, out);
      }
    },
  };
}
