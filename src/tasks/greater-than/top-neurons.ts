import type { Gpt2Model } from "../../gpt2/model.ts";
import { componentName } from "../../patching/nodes.ts";
import type { PathActivations } from "../../patching/path-activations.ts";
import { cachedMlpNeurons } from "../../patching/recompute.ts";
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
 * The neuron activations are recomputed at `pos` from the cached runs' MLP inputs.
 */
export function topNeuronsOfMlp(
  model: Gpt2Model, clean: PathActivations, corrupted: PathActivations, yy: ArrayLike<number>,
  layer: number, pos: number, yearTokens: readonly number[], count: number,
): NeuronRanking {
  const { dMlp, dModel: d } = model.config;
  const { batch } = clean;
  const cleanPost = cachedMlpNeurons(model, clean, layer, pos);
  const corruptedPost = cachedMlpNeurons(model, corrupted, layer, pos);
  const directions = yearReadDirections(model, yearTokens);
  const years = yearTokens.length;
  const wOut = model.weights.blocks[layer]!.mlpOutWeight;
  // prefix[n][y] = Σ_{y' < y} of neuron n's contribution to year y': the year-logit difference
  // for any YY is then two lookups.
  const prefix = Array.from({ length: dMlp }, (_, n) => {
    const effect = yearContributions(wOut.subarray(n * d, (n + 1) * d), 1, directions);
    const sums = new Float64Array(years + 1);
    for (let y = 0; y < years; y++) sums[y + 1] = sums[y]! + effect[y]!;
    return sums;
  });
  const scores = new Float64Array(dMlp);
  for (let b = 0; b < batch; b++) {
    const cut = yy[b]!;
    const scale = clean.finalScale[b * clean.pos + pos]!;
    const aboveCount = years - 1 - cut;
    for (let n = 0; n < dMlp; n++) {
      const change = (corruptedPost[b * dMlp + n]! - cleanPost[b * dMlp + n]!) / scale;
      if (change === 0) continue;
      const sums = prefix[n]!;
      const below = sums[cut + 1]!;
      const above = sums[years]! - below;
      const difference = (aboveCount > 0 ? above / aboveCount : 0) - below / (cut + 1);
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
