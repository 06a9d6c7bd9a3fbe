import fc from "fast-check";
import type { Gpt2Config } from "../gpt2/config.ts";
import type { TokenBatch } from "../gpt2/tokens.ts";
import { type HookName, hookNames } from "../gpt2/hook-names.ts";
import type { Component, NodeAt } from "../patching/nodes.ts";
import type { PatchComponent, PatchGrouping } from "../patching/patching-result.ts";

export interface PromptArbitraryOptions {
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly maxBatch?: number;
}

/** Token batches of random ids, batch 1…maxBatch, 1…maxLength tokens (capped at n_ctx). */
export function tokenBatchArbitrary(config: Pick<Gpt2Config, "dVocab" | "nCtx">, options: PromptArbitraryOptions = {}): fc.Arbitrary<TokenBatch> {
  const minLength = options.minLength ?? 1;
  const maxLength = Math.min(options.maxLength ?? 16, config.nCtx);
  return fc
    .record({
      batch: fc.integer({ min: 1, max: options.maxBatch ?? 3 }),
      pos: fc.integer({ min: minLength, max: maxLength }),
    })
    .chain(({ batch, pos }) =>
      fc
        .array(fc.integer({ min: 0, max: config.dVocab - 1 }), { minLength: batch * pos, maxLength: batch * pos })
        .map((ids): TokenBatch => ({ ids: Int32Array.from(ids), batch, pos })),
    );
}

/** Any hook point of a model with this many layers. */
export function hookNameArbitrary(config: Pick<Gpt2Config, "nLayers">): fc.Arbitrary<HookName> {
  return fc.constantFrom(...hookNames(config));
}

/** A head, an MLP or the embedding. */
export function componentArbitrary(config: Pick<Gpt2Config, "nLayers" | "nHeads">): fc.Arbitrary<Component> {
  return fc.oneof(
    fc.constant<Component>({ kind: "embed" }),
    fc.record({ layer: fc.integer({ min: 0, max: config.nLayers - 1 }) }).map(({ layer }): Component => ({ kind: "mlp", layer })),
    fc
      .record({ layer: fc.integer({ min: 0, max: config.nLayers - 1 }), head: fc.integer({ min: 0, max: config.nHeads - 1 }) })
      .map(({ layer, head }): Component => ({ kind: "head", layer, head })),
  );
}

export function nodeArbitrary(config: Pick<Gpt2Config, "nLayers" | "nHeads">, positions: number): fc.Arbitrary<NodeAt> {
  return fc
    .tuple(componentArbitrary(config), fc.integer({ min: 0, max: positions - 1 }))
    .map(([component, pos]): NodeAt => ({ ...component, pos }));
}

/** The activation-patching sweeps this library supports, as { component, by } pairs. */
export function patchSpecArbitrary(): fc.Arbitrary<{ component: PatchComponent; by: PatchGrouping }> {
  const specs: { component: PatchComponent; by: PatchGrouping }[] = [];
  for (const component of ["resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out"] as const) {
    specs.push({ component, by: "layer_pos" });
  }
  for (const component of ["z", "q", "k", "v"] as const) {
    specs.push({ component, by: "layer_head" }, { component, by: "layer_pos_head" });
  }
  specs.push({ component: "pattern", by: "layer_head" });
  return fc.constantFrom(...specs);
}
