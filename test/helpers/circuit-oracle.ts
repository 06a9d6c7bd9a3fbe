/**
 * The paper's circuit evaluation as one hooked forward pass of the base prompts with explicit
 * patches, and nothing else (the only arithmetic is copying rows):
 * - every node output (embedding row, each head's `attn.hook_result` row, each `hook_mlp_out` row)
 *   is forced to the base run's value, except
 * - the circuit heads at `position`: forced to the source run's output (without lower nodes), or left
 *   to the model (with lower nodes), with their queries, and their keys and values at every position
 *   that holds no lower node, forced back to the base run's;
 * - lower nodes: forced to the source run's output;
 * - the circuit MLPs at `position`: left to the model.
 * The base is the corrupted run for the evaluation, the clean run for its reverse.
 */
import type { BlockHookName, HookName } from "../../src/gpt2/hook-names.ts";
import type { TokenBatch } from "../../src/gpt2/tokens.ts";
import type { ActivationCache } from "../../src/hooks/activation-cache.ts";
import type { HookedGpt2, HookSpec } from "../../src/hooks/hooked-gpt2.ts";
import type { NodeAt } from "../../src/patching/nodes.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";

export interface OracleCircuit {
  readonly heads: readonly { readonly layer: number; readonly head: number }[];
  readonly mlps: readonly number[];
  readonly position: number;
  readonly lower?: readonly NodeAt[];
}

const block = (layer: number, suffix: string) => `blocks.${layer}.${suffix}` as BlockHookName;

function cacheOf(model: HookedGpt2, tokens: TokenBatch): ActivationCache {
  const names: HookName[] = [block(0, "hook_resid_pre")];
  for (let layer = 0; layer < model.config.nLayers; layer++) {
    for (const suffix of ["attn.hook_result", "hook_mlp_out", "attn.hook_q", "attn.hook_k", "attn.hook_v"]) names.push(block(layer, suffix));
  }
  return model.runUntil(tokens, "ln_final.hook_scale", { cache: names });
}

/** Logits [batch, d_vocab] at `logitPosition` of the base prompts under the circuit's patches. */
export function paperCircuitOracleLogits(
  model: HookedGpt2, baseTokens: TokenBatch, sourceTokens: TokenBatch, circuit: OracleCircuit, logitPosition: number,
): Tensor {
  const base = cacheOf(model, baseTokens);
  const source = cacheOf(model, sourceTokens);
  const { nLayers, nHeads } = model.config;
  const { batch, pos } = baseTokens;
  const lower = circuit.lower ?? [];
  const withLower = lower.length > 0;
  const isLower = (node: NodeAt) =>
    lower.some((l) => l.kind === node.kind && l.pos === node.pos && (l.kind === "embed" || (l.layer === (node as { layer: number }).layer &&
      (l.kind === "mlp" || l.head === (node as { head: number }).head))));
  const isCircuitHead = (layer: number, head: number, p: number) =>
    p === circuit.position && circuit.heads.some((h) => h.layer === layer && h.head === head);

  /** Rows per (position, slot) of a [batch, pos, slots, width] or [batch, pos, width] hook value. */
  const force = (name: HookName, slots: number, choose: (p: number, slot: number) => "base" | "source" | "model") =>
    [name, (activation: Tensor) => {
      const out = activation.clone();
      const width = activation.size / (batch * pos * slots);
      for (let b = 0; b < batch; b++) {
        for (let p = 0; p < pos; p++) {
          for (let s = 0; s < slots; s++) {
            const which = choose(p, s);
            if (which === "model") continue;
            const from = (which === "base" ? base : source).get(name).data;
            const at = ((b * pos + p) * slots + s) * width;
            out.data.set(from.subarray(at, at + width), at);
          }
        }
      }
      return out;
    }] as HookSpec;

  const hooks: HookSpec[] = [force(block(0, "hook_resid_pre"), 1, (p) => (isLower({ kind: "embed", pos: p }) ? "source" : "base"))];
  for (let layer = 0; layer < nLayers; layer++) {
    if (withLower) {
      const lowerPositions = new Set(lower.map((l) => l.pos));
      hooks.push(force(block(layer, "attn.hook_q"), nHeads, (p, h) => (isCircuitHead(layer, h, circuit.position) ? "base" : "model")));
      for (const input of ["k", "v"]) {
        hooks.push(force(block(layer, `attn.hook_${input}`), nHeads, (p, h) =>
          isCircuitHead(layer, h, circuit.position) && !lowerPositions.has(p) ? "base" : "model"));
      }
    }
    hooks.push(force(block(layer, "attn.hook_result"), nHeads, (p, h) => {
      if (isCircuitHead(layer, h, p)) return withLower ? "model" : "source";
      return isLower({ kind: "head", layer, head: h, pos: p }) ? "source" : "base";
    }));
    hooks.push(force(block(layer, "hook_mlp_out"), 1, (p) => {
      if (p === circuit.position && circuit.mlps.includes(layer)) return "model";
      return isLower({ kind: "mlp", layer, pos: p }) ? "source" : "base";
    }));
  }
  const { logits } = model.run(baseTokens, { hooks, logitPositions: [logitPosition] });
  return logits.reshape([batch, -1]);
}
