import type { Gpt2Model } from "../../gpt2/model.ts";
import { type NeuronRanking, neuronDirectPathPatching, rankNeurons } from "../../patching/neuron-attribution.ts";
import { componentName } from "../../patching/nodes.ts";
import { neuronCache, type PathActivations } from "../../patching/path-activations.ts";
import type { ActivationCache } from "../../hooks/activation-cache.ts";

/** The clean and corrupted runs' neuronCache of one MLP, made once for every neuron analysis of it. */
export interface NeuronCaches {
  readonly layer: number;
  readonly clean: ActivationCache;
  readonly corrupted: ActivationCache;
}

/** neuronCaches of MLP `layer` (its hook_post recomputed in both runs), or `given` when they are of that MLP. */
export function neuronCaches(model: Gpt2Model, clean: PathActivations, corrupted: PathActivations, layer: number, given?: NeuronCaches): NeuronCaches {
  if (given?.layer === layer) return given;
  return { layer, clean: neuronCache(model, clean, layer), corrupted: neuronCache(model, corrupted, layer) };
}

export interface TopNeurons {
  readonly mlp: string;
  /** What `score` measures. */
  readonly score: string;
  /** The library's ranking (neuronDirectPathPatching + rankNeurons), largest |score| first. */
  readonly neurons: NeuronRanking["ranking"];
}

/** Neurons patched per neuronDirectPathPatching call: bounds its [neurons, batch, years] result (GPT-2 small: 3072 neurons). */
const NEURONS_PER_CALL = 256;

/**
 * The year-logit difference a prompt's token-logit changes make: mean change over the years > YY
 * minus the mean over the years ≤ YY (the paper's PD, linearised in the logits).
 */
export function yearLogitDifference(yy: ArrayLike<number>): (changes: Float32Array, prompt: number) => number {
  return (changes, prompt) => {
    const cut = yy[prompt]!;
    let below = 0;
    let above = 0;
    for (let y = 0; y < changes.length; y++) {
      if (y <= cut) below += changes[y]!;
      else above += changes[y]!;
    }
    const aboveCount = changes.length - 1 - cut;
    return (aboveCount > 0 ? above / aboveCount : 0) - below / (cut + 1);
  };
}

/**
 * Neuron-level direct-path patching of MLP `layer` at `pos` (neuronDirectPathPatching, ln_final
 * scale frozen): each neuron takes its corrupted activation and its change reaches the logits only
 * through the direct path; neurons are ranked (rankNeurons) by the mean change of the year-logit
 * difference. Their activations come from the cached runs' MLP inputs (or `caches`, when of this MLP).
 */
export function topNeuronsOfMlp(
  model: Gpt2Model, clean: PathActivations, corrupted: PathActivations, yy: ArrayLike<number>,
  layer: number, pos: number, yearTokens: readonly number[], count: number, caches?: NeuronCaches,
): TopNeurons {
  const { clean: cleanCache, corrupted: corruptedCache } = neuronCaches(model, clean, corrupted, layer, caches);
  const metric = yearLogitDifference(yy);
  const best: NeuronRanking["ranking"][number][] = [];
  for (let first = 0; first < model.config.dMlp; first += NEURONS_PER_CALL) {
    const neurons = Array.from({ length: Math.min(NEURONS_PER_CALL, model.config.dMlp - first) }, (_, i) => first + i);
    const result = neuronDirectPathPatching(model, {
      clean: cleanCache, corrupted: corruptedCache, layer, pos, neurons, tokens: yearTokens, ln: "frozen",
    });
    best.push(...rankNeurons(result, metric, count).ranking);
  }
  const neurons = best
    .sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || a.neuron - b.neuron)
    .slice(0, count);
  return {
    mlp: componentName({ kind: "mlp", layer }),
    score: "mean change of the END year-logit difference (years > YY minus years ≤ YY) through the direct path, neuron set to its corrupted activation, ln_final scale frozen",
    neurons,
  };
}
