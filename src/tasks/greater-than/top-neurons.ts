import type { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import { blockHook } from "../../hooks/hook-names.ts";
import { componentName } from "../../patching/nodes.ts";
import type { GreaterThanPrompts } from "./dataset-file.ts";
import { yearContributions, yearReadDirections } from "./year-unembedding.ts";

export interface NeuronRanking {
  readonly mlp: string;
  /** What `score` measures. */
  readonly score: string;
  readonly neurons: { readonly neuron: number; readonly score: number }[];
}

/**
 * Neuron-level direct-path patching: each neuron of MLP `layer` at `pos` takes its corrupted
 * activation; its change reaches the logits only through the direct path (ln_final scale frozen).
 * Score: mean change of the year-logit difference (mean logit of years > YY minus years ≤ YY).
 */
export function topNeuronsOfMlp(
  model: HookedGpt2, data: GreaterThanPrompts, layer: number, pos: number, yearTokens: readonly number[], count: number,
): NeuronRanking {
  const { dMlp, dModel: d } = model.config;
  const name = blockHook(layer, "mlp.hook_post");
  const names = [name, "ln_final.hook_scale"] as const;
  const cleanCache = model.runUntil(data.tokens, "ln_final.hook_scale", { cache: [...names] });
  const corruptedPost = model.runUntil(data.corruptedTokens, name, { cache: [name] }).get(name).data;
  const cleanPost = cleanCache.get(name).data;
  const scales = cleanCache.get("ln_final.hook_scale").data;
  const { batch, pos: length } = data.tokens;
  const directions = yearReadDirections(model.model, yearTokens);
  const wOut = model.model.weights.blocks[layer]!.mlpOutWeight;
  const neuronYearEffect = Array.from({ length: dMlp }, (_, n) => yearContributions(wOut.subarray(n * d, (n + 1) * d), 1, directions));
  const scores = new Float64Array(dMlp);
  for (let b = 0; b < batch; b++) {
    const yy = data.yy[b]!;
    const scale = scales[b * length + pos]!;
    const offset = (b * length + pos) * dMlp;
    for (let n = 0; n < dMlp; n++) {
      const change = (corruptedPost[offset + n]! - cleanPost[offset + n]!) / scale;
      if (change === 0) continue;
      const effect = neuronYearEffect[n]!;
      let above = 0, below = 0;
      for (let y = 0; y < effect.length; y++) (y > yy ? (above += effect[y]!) : (below += effect[y]!));
      const aboveCount = effect.length - 1 - yy;
      const difference = (aboveCount > 0 ? above / aboveCount : 0) - below / (yy + 1);
      scores[n]! += (change * difference) / batch;
    }
  }
  const neurons = Array.from(scores, (score, neuron) => ({ neuron, score }))
    .sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || a.neuron - b.neuron)
    .slice(0, count);
  return {
    mlp: componentName({ kind: "mlp", layer }),
    score: "mean change of the END year-logit difference (years > YY minus years ≤ YY) through the direct path, neuron set to its corrupted activation, ln_final scale frozen",
    neurons,
  };
}
