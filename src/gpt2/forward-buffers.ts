import type { HookName } from "./hook-names.ts";
import type { PassScratch } from "./forward-scratch.ts";

/** What a forward pass's intermediate is, for choosing a workspace buffer it may live in. */
export type BufferRole = "ln" | "qkv" | "q" | "k" | "v" | "scores" | "z" | "attnOut" | "mlp" | "mlpOut";

/**
 * Workspace slots of a block's unheld intermediates. Values share a slot when the earlier one is dead
 * before the later one is written (in a block: ln1 → qkv → q, k, v → scores/pattern → z → attn_out
 * (+ resid_pre = resid_mid) → ln2 → mlp pre/post → mlp_out (+ resid_mid = resid_post)):
 * - ln1/ln2/ln_final and z: ln1 is dead once qkv is computed, z once attn_out is;
 * - qkv, the scores/pattern and attn_out/resid_mid: qkv is dead after the split, the pattern after z,
 *   and resid_mid after resid_post;
 * - q and the MLP's hidden layer: q is dead after the scores;
 * - k, v: alive until the scores / z;
 * - mlp_out/resid_post: the next block reads it as resid_pre until its resid_mid, so it needs a slot
 *   that nothing before that writes.
 */
const SLOT: Record<BufferRole, string> = {
  ln: "a", z: "a", qkv: "b", scores: "b", attnOut: "b", q: "c", mlp: "c", k: "d", v: "e", mlpOut: "f",
};

/**
 * Where a forward pass puts its intermediates: a buffer of the backend's workspace (reused by every
 * layer) for a value nothing outside the pass holds, else undefined (a fresh array).
 */
export class ForwardBuffers {
  constructor(
    private readonly scratch: PassScratch | null,
    private readonly held: (name: HookName) => boolean,
  ) {}

  /** A buffer for `role` when none of `names` (the hook points the value is seen as, itself or aliased by in-place updates) is held. */
  take(role: BufferRole, floats: number, names: readonly HookName[] = []): Float32Array | undefined {
    if (this.scratch === null || names.some((name) => this.held(name))) return undefined;
    return this.scratch.take(SLOT[role], floats);
  }

  /** The blocks' qkv and MLP buffers, dead after the last block: room the unembedding may stage through. */
  spareAfterBlocks(): Float32Array[] | undefined {
    return this.scratch?.spare([SLOT.qkv, SLOT.mlp]);
  }
}
