import type { Gpt2Model } from "../../gpt2/model.ts";
import { neuronDla } from "../../patching/direct-logit-attribution.ts";
import { htmlGrid } from "../../patching/html-grid.ts";
import { neuronDirectPathPatching, rankNeurons } from "../../patching/neuron-attribution.ts";
import { cumulativeNeuronPatching } from "../../patching/neuron-cumulative.ts";
import { componentName } from "../../patching/nodes.ts";
import type { PathActivations } from "../../patching/path-activations.ts";
import { type HtmlDisplayed, withHtmlDisplay } from "./display.ts";
import { InputError } from "../../errors.ts";
import { type NeuronCaches, neuronCaches, type TopNeurons, topNeuronsOfMlp, yearLogitDifference } from "./top-neurons.ts";
import { meanRowsByYy } from "./yy-groups.ts";

export interface NeuronHeatmap {
  readonly neuron: number;
  /** Mean over the prompts of each YY (rows) of the neuron's share of each year's logit (columns), rows centred. */
  readonly dla: number[][];
  /** The same from direct-path patching: the change when the neuron takes its corrupted activation, rows centred. */
  readonly patching: number[][];
}

export interface NeuronAnalysis {
  readonly mlp: string;
  readonly layer: number;
  readonly yy: number[];
  /** Neurons by |score| (the top_neurons ranking: frozen-scale direct-path patching, year-logit difference), up to 200. */
  readonly ranking: { readonly neuron: number; readonly score: number }[];
  readonly heatmaps: NeuronHeatmap[];
  /** The top k patched together vs the sum of their single effects (ln_final recomputed, so not forced to add up). */
  readonly together: { readonly k: number; readonly neurons: number[]; readonly together: number; readonly sum_of_singles: number };
  /** Effect of patching the top 1…n together, n = 1…min(200, d_mlp). */
  readonly cumulative: { readonly n: number[]; readonly effect: number[] };
  /** What `together` and `cumulative` measure. */
  readonly metric: string;
}

export interface NeuronAnalysisOptions {
  readonly layer: number;
  readonly pos: number;
  readonly yy: ArrayLike<number>;
  readonly yearTokens: readonly number[];
  /** Neurons drawn as YY × year heatmaps (default 4). */
  readonly heatmapNeurons?: number;
  /** Neurons patched together against the sum of their single effects (default 10). */
  readonly togetherCount?: number;
  /** Longest prefix of the ranking patched together (default CUMULATIVE_MAX). */
  readonly cumulativeMax?: number;
  /** This MLP's topNeuronsOfMlp ranking when already computed, at least min(cumulativeMax, d_mlp) long (the report's top_neurons). */
  readonly ranking?: TopNeurons;
  /** The runs' neuron caches when already made (used when of this MLP). */
  readonly caches?: NeuronCaches;
}

/** Default `cumulativeMax`: the paper's cumulative-effect curve runs to 200 neurons. */
export const CUMULATIVE_MAX = 200;

const METRIC =
  "mean change of the END year-logit difference (mean logit of years > YY minus mean of years ≤ YY) when the neurons take their " +
  "corrupted (XX01) activations and the change reaches the logits only through the direct path, ln_final recomputed";

/**
 * What the neurons of MLP `layer` do for greater-than: per-neuron YY × year heatmaps of the top
 * neurons (direct logit attribution with ln_final folded into W_U and the clean scale frozen, and
 * direct-path patching), the top k patched together vs the sum of their single effects, and the
 * effect of the top 1…200 patched together.
 */
export function neuronAnalysis(
  model: Gpt2Model, clean: PathActivations, corrupted: PathActivations, options: NeuronAnalysisOptions,
): NeuronAnalysis & HtmlDisplayed {
  const { layer, pos, yy, yearTokens } = options;
  const T = yearTokens.length;
  const longest = Math.min(options.cumulativeMax ?? CUMULATIVE_MAX, model.config.dMlp);
  const caches = neuronCaches(model, clean, corrupted, layer, options.caches);
  const ranking = (givenRanking(options.ranking, layer, longest) ?? topNeuronsOfMlp(model, clean, corrupted, yy, layer, pos, yearTokens, longest, caches))
    .neurons.slice(0, longest).map(({ neuron, score }) => ({ neuron, score }));
  const order = ranking.map((r) => r.neuron);
  const { clean: cleanCache, corrupted: corruptedCache } = caches;
  const patchOptions = { clean: cleanCache, corrupted: corruptedCache, layer, pos, tokens: yearTokens };

  const shown = order.slice(0, options.heatmapNeurons ?? 4);
  const dla = neuronDla(model, cleanCache, layer, pos, yearTokens, { applyLn: true, neurons: shown }).values.data; // [batch, N, T]
  const patched = neuronDirectPathPatching(model, { ...patchOptions, neurons: shown, ln: "frozen" }).values.data; // [N, batch, T]
  let groups: number[] = [];
  const heatmaps = shown.map((neuron, i): NeuronHeatmap => {
    const byDla = meanRowsByYy(dla, T, yy, { centre: true, stride: shown.length * T, offset: i * T });
    const byPatching = meanRowsByYy(patched.subarray(i * yy.length * T, (i + 1) * yy.length * T), T, yy, { centre: true });
    groups = byDla.yy;
    return { neuron, dla: byDla.rows, patching: byPatching.rows };
  });

  const metric = yearLogitDifference(yy);
  const k = Math.min(options.togetherCount ?? 10, order.length);
  const top = order.slice(0, k);
  const singles = rankNeurons(neuronDirectPathPatching(model, { ...patchOptions, neurons: top, ln: "recompute" }), metric).scores;
  const jointly = neuronDirectPathPatching(model, { ...patchOptions, neurons: top, ln: "recompute", together: true }).values.data;
  const together = meanMetric(jointly, 0, yy.length, T, metric);
  const cumulative = cumulativeNeuronPatching(model, { ...patchOptions, neurons: order, ln: "recompute" });
  const [count, batch] = cumulative.values.shape as [number, number, number];
  const effect = Array.from({ length: count }, (_, n) => meanMetric(cumulative.values.data, n, batch, T, metric));
  const result: NeuronAnalysis = {
    mlp: componentName({ kind: "mlp", layer }),
    layer,
    yy: groups,
    ranking,
    heatmaps,
    together: { k, neurons: top, together, sum_of_singles: singles.reduce((a, v) => a + v, 0) },
    cumulative: { n: effect.map((_, i) => i + 1), effect },
    metric: METRIC,
  };
  return withHtmlDisplay(result, (value) =>
    htmlGrid({
      caption: `${value.mlp}: top ${value.together.k} neurons together ${value.together.together.toPrecision(3)} vs sum of single effects ${value.together.sum_of_singles.toPrecision(3)}; cumulative effect of the top n`,
      rowLabels: ["effect"],
      colLabels: value.cumulative.n.map(String),
      values: [value.cumulative.effect],
    }),
  );
}

/** A precomputed ranking, checked to be of MLP `layer` and long enough; undefined when none was given. */
function givenRanking(ranking: TopNeurons | undefined, layer: number, longest: number): TopNeurons | undefined {
  if (ranking === undefined) return undefined;
  const mlp = componentName({ kind: "mlp", layer });
  if (ranking.mlp !== mlp || ranking.neurons.length < longest) {
    throw new InputError(`neuronAnalysis: the given ranking is of ${ranking.mlp} with ${ranking.neurons.length} neurons; expected ${mlp} with at least ${longest}`, "bad_option");
  }
  return ranking;
}

/** The batch mean of `metric` over row `row` of [rows, batch, T] logit changes. */
function meanMetric(values: Float32Array, row: number, batch: number, T: number, metric: (changes: Float32Array, prompt: number) => number): number {
  let total = 0;
  for (let b = 0; b < batch; b++) total += metric(values.subarray((row * batch + b) * T, (row * batch + b + 1) * T), b);
  return total / batch;
}
