import type { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import type { PathActivations } from "../../patching/path-activations.ts";
import type { PathPatchingGrid } from "../../patching/path-patching.ts";
import { type AttentionPatterns, type AttentionToYyByYy, attentionToYyByYy, meanAttentionPatterns } from "./attention-analysis.ts";
import type { SelectedHead } from "./circuit-selection.ts";
import { GT_POSITIONS } from "./dataset.ts";
import { type HeadLogitLens, headLogitLens } from "./head-logit-lens.ts";
import { type NeuronAnalysis, neuronAnalysis } from "./neuron-analysis.ts";
import type { NeuronCaches, TopNeurons } from "./top-neurons.ts";
import { componentName } from "../../patching/nodes.ts";
import { type YearPca, yearPca } from "./year-pca.ts";
import { InputError } from "../../errors.ts";

/** What each circuit component does (issue 15, §§3–6): report.json's `component_analyses`. */
export interface ComponentAnalysesReport {
  /** Mean full attention patterns of the strongest circuit heads (at most four). */
  readonly attention_patterns: AttentionPatterns;
  /** END → YY attention of each circuit head per YY. */
  readonly attention_by_yy: AttentionToYyByYy;
  readonly head_logit_lens: HeadLogitLens[];
  readonly year_pca: YearPca;
  /** Null when the model has no MLP to analyse (never for GPT-2). */
  readonly neurons: NeuronAnalysis | null;
}

export interface ComponentAnalysesInput {
  readonly model: HookedGpt2;
  readonly clean: PathActivations;
  readonly corrupted: PathActivations;
  readonly yy: Int32Array;
  readonly yearTokens: readonly number[];
  /** The senders → logits grid: picks the most important MLP. */
  readonly logitsGrid: Pick<PathPatchingGrid, "grid">;
  /** Every senders-at-END grid (→ logits, → each MLP; default the logits grid): rank the heads and pick the control head. */
  readonly senderGrids?: readonly Pick<PathPatchingGrid, "grid">[];
  readonly heads: readonly SelectedHead[];
  readonly circuitMlps: readonly number[];
  /** MLPs the most important one is chosen among (the last four). */
  readonly candidateMlps: readonly number[];
  /** Analyse this MLP's neurons instead of the most important one. */
  readonly neuronMlp?: number;
  /** A topNeuronsOfMlp ranking already computed (the report's top_neurons): reused when it is of the analysed MLP. */
  readonly neuronRanking?: TopNeurons | null;
  /** The runs' neuron caches of the MLP top_neurons ranked: reused when it is the analysed MLP. */
  readonly neuronCaches?: NeuronCaches | null;
  readonly onStep?: (done: number, total: number) => void;
}

export const COMPONENT_ANALYSIS_STEPS = 4;

export function runComponentAnalyses(input: ComponentAnalysesInput): ComponentAnalysesReport {
  const { model, clean, corrupted, yy, yearTokens, logitsGrid, heads } = input;
  const { nLayers, nHeads } = model.config;
  const { END } = GT_POSITIONS;
  const step = input.onStep ?? (() => {});
  checkNeuronMlp(input.neuronMlp, nLayers);
  const grids = input.senderGrids ?? [logitsGrid];
  const effect = (h: SelectedHead) => Math.min(...grids.map((g) => g.grid[h.layer]![h.head] ?? 0));
  const strongest = [...heads].sort((a, b) => effect(a) - effect(b) || a.layer - b.layer || a.head - b.head).slice(0, 4);
  step(0, COMPONENT_ANALYSIS_STEPS);
  const attention_patterns = meanAttentionPatterns(model.model, clean, strongest);
  const attention_by_yy = attentionToYyByYy(model.model, clean, heads, yy);
  step(1, COMPONENT_ANALYSIS_STEPS);
  const head_logit_lens = headLogitLens(model.model, clean, heads, END, yy, yearTokens);
  step(2, COMPONENT_ANALYSIS_STEPS);
  const year_pca = yearPca(model, {
    circuitHeads: heads,
    firstCircuitMlp: input.circuitMlps.length ? Math.min(...input.circuitMlps) : null,
    controlHead: controlHead(grids, heads, nLayers, nHeads),
  });
  step(3, COMPONENT_ANALYSIS_STEPS);
  const layer = input.neuronMlp ?? mostImportantMlp(logitsGrid, nHeads, input.candidateMlps);
  const ranking = input.neuronRanking?.mlp === componentName({ kind: "mlp", layer: layer ?? -1 }) ? { ranking: input.neuronRanking } : {};
  const caches = input.neuronCaches ? { caches: input.neuronCaches } : {};
  const neurons = layer === null ? null : neuronAnalysis(model.model, clean, corrupted, { layer, pos: END, yy, yearTokens, ...ranking, ...caches });
  step(4, COMPONENT_ANALYSIS_STEPS);
  return { attention_patterns, attention_by_yy, head_logit_lens, year_pca, neurons };
}

/** A `neuronMlp` option must name one of the model's layers (checked before any work). */
export function checkNeuronMlp(neuronMlp: number | undefined, nLayers: number): void {
  if (neuronMlp !== undefined && (!Number.isInteger(neuronMlp) || neuronMlp < 0 || neuronMlp >= nLayers)) {
    throw new InputError(`neuronMlp ${neuronMlp} is not an MLP of this model (layers 0…${nLayers - 1})`, "bad_option");
  }
}

/** The non-circuit head whose largest path effect in `grids` is smallest (ties: the earliest). */
export function controlHead(grids: readonly Pick<PathPatchingGrid, "grid">[], heads: readonly SelectedHead[], nLayers: number, nHeads: number): SelectedHead | null {
  let best: SelectedHead | null = null;
  let bestEffect = Infinity;
  for (let layer = 0; layer < nLayers; layer++) {
    for (let head = 0; head < nHeads; head++) {
      if (heads.some((h) => h.layer === layer && h.head === head)) continue;
      const value = Math.max(...grids.map((g) => Math.abs(g.grid[layer]![head] ?? 0)));
      if (value < bestEffect) [best, bestEffect] = [{ layer, head }, value];
    }
  }
  return best;
}

/** The MLP among `layers` whose direct path lowers the metric most (the report's top_neurons MLP). */
export function mostImportantMlp(grid: Pick<PathPatchingGrid, "grid">, nHeads: number, layers: readonly number[]): number | null {
  let best: number | null = null;
  for (const layer of layers) {
    const value = grid.grid[layer]![nHeads] ?? 0;
    if (best === null || value < (grid.grid[best]![nHeads] ?? 0)) best = layer;
  }
  return best;
}
