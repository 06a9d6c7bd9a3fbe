import type { TokenInput } from "../gpt2/tokens.ts";
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import { blockHook, type HookName } from "../hooks/hook-names.ts";

/**
 * What path patching needs of one run, at every position: the residual stream a node reads, the
 * keys, values and z of every head, the MLP outputs and the final residual. Head outputs are
 * rebuilt from z on demand, so nothing [batch, pos, head, d_model]-sized is kept.
 */
export interface PathActivations {
  readonly batch: number;
  readonly pos: number;
  /** hook_embed + hook_pos_embed = blocks.0.hook_resid_pre, [batch, pos, d_model]. */
  readonly embed: Float32Array;
  readonly residPre: readonly Float32Array[];
  readonly residMid: readonly Float32Array[];
  /** [batch, pos, head, d_head] per layer. */
  readonly k: readonly Float32Array[];
  readonly v: readonly Float32Array[];
  readonly z: readonly Float32Array[];
  readonly mlpOut: readonly Float32Array[];
  /** blocks.{last}.hook_resid_post, [batch, pos, d_model]. */
  readonly finalResid: Float32Array;
  /** ln_final.hook_scale, [batch, pos]. */
  readonly finalScale: Float32Array;
}

export function collectPathActivations(model: HookedGpt2, tokens: TokenInput): PathActivations {
  const { nLayers } = model.config;
  const batch = model.tokens(tokens);
  const names: HookName[] = ["ln_final.hook_scale"];
  for (let layer = 0; layer < nLayers; layer++) {
    for (const suffix of ["hook_resid_pre", "hook_resid_mid", "attn.hook_k", "attn.hook_v", "attn.hook_z", "hook_mlp_out"] as const) {
      names.push(blockHook(layer, suffix));
    }
  }
  names.push(blockHook(nLayers - 1, "hook_resid_post"));
  const cache = model.runUntil(batch, "ln_final.hook_scale", { cache: names });
  const perLayer = (suffix: Parameters<typeof blockHook>[1]) =>
    Array.from({ length: nLayers }, (_, layer) => cache.get(blockHook(layer, suffix)).data);
  return {
    batch: batch.batch,
    pos: batch.pos,
    embed: cache.get(blockHook(0, "hook_resid_pre")).data,
    residPre: perLayer("hook_resid_pre"),
    residMid: perLayer("hook_resid_mid"),
    k: perLayer("attn.hook_k"),
    v: perLayer("attn.hook_v"),
    z: perLayer("attn.hook_z"),
    mlpOut: perLayer("hook_mlp_out"),
    finalResid: cache.get(blockHook(nLayers - 1, "hook_resid_post")).data,
    finalScale: cache.get("ln_final.hook_scale").data,
  };
}
