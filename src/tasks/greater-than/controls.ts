/**
 * The greater-than report's controls and statistics: per-prompt summaries (mean, sd, bootstrap
 * interval) of the baseline and of the circuit's paper evaluation, and the probability slice at one YY.
 */
import { InputError } from "../../errors.ts";
import type { CircuitEvaluationResult } from "../../patching/circuit-evaluation.ts";
import { PatchingError } from "../../patching/patching-error.ts";
import {
  type BootstrapOptions, DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, type MeanSummary, summarizeMean, summarizeRatioOfMeans,
} from "../statistics.ts";
import { cutoffSharpness, probabilityDifference, yearProbabilitiesFromLogSumExp } from "./metrics.ts";
import type { StreamedBaseline } from "./baseline-stream.ts";
import type { RandomCircuitControl, RandomCircuitMlps } from "./random-circuits.ts";
import type { TaskCheck } from "./task-check.ts";
import type { SelectionCellStatistics } from "./selection-cells.ts";

export const DEFAULT_SLICE_YY = 41;

export interface RandomCircuitSettings {
  readonly k?: number;
  readonly seed?: number;
  readonly mlps?: RandomCircuitMlps;
}

export interface BaselineStatistics {
  readonly prob_diff: MeanSummary;
  readonly cutoff_sharpness: MeanSummary;
  readonly corrupted_prob_diff: MeanSummary;
  /** PD − corrupted PD per prompt: how much the corruption takes away. */
  readonly corruption_effect: MeanSummary;
}

export interface PaperCircuitStatistics {
  readonly prob_diff: MeanSummary;
  readonly cutoff_sharpness: MeanSummary;
  /** mean circuit PD / mean model PD, with a paired bootstrap interval. */
  readonly fraction_of_baseline: { readonly n: number; readonly value: number; readonly ci: readonly [number, number] };
}

export interface ReportStatistics {
  readonly bootstrap: { readonly resamples: number; readonly seed: number; readonly confidence: number; readonly method: string };
  readonly baseline: BaselineStatistics;
  /** The paper's circuit evaluation (circuit_evaluation.paper) per prompt; null without a circuit. */
  readonly circuit_paper: PaperCircuitStatistics | null;
  /** Every path-patching cell the selection rule picked, per prompt; empty without a selection. */
  readonly selection_cells: SelectionCellStatistics[];
}

/** The pipeline's options for its controls and statistics. */
export interface GreaterThanControlOptions {
  /** The task check's threshold: no circuit unless the lower end of PD's bootstrap interval exceeds it (default 0.05). */
  readonly minProbDiff?: number;
  /** false: select and evaluate a circuit even when the task check fails (e.g. to time the pipeline on random weights). Default true. */
  readonly enforceTaskCheck?: boolean;
  /** Resamples, seed and confidence of every bootstrap interval (default 1000, 0, 0.95). */
  readonly bootstrap?: BootstrapOptions;
  /** The random-circuit control (k head sets, default 20, seed 0, the circuit's MLPs); not run when absent or null. */
  readonly randomCircuits?: RandomCircuitSettings | null;
  /** Per-prompt statistics of the path-patching cells the selection picked (default true; one patched run per cell). */
  readonly cellStatistics?: boolean;
  /** The start year of the probability slice (default 41, as in the paper's figure). */
  readonly sliceYy?: number;
  /** Also the baseline metrics on this many unbalanced prompts, in batches, without path patching (see baseline-stream). */
  readonly largeBaseline?: { readonly n: number; readonly seed?: number; readonly batchSize?: number };
}

/** The report's controls and statistics. */
export interface GreaterThanControlsReport {
  /** Whether the model computes greater-than (the rule, the numbers, the verdict); without it no circuit is selected. */
  readonly task_check: TaskCheck;
  /** Mean, sd and bootstrap interval of the baseline, the circuit's paper evaluation and the selection's path-patching cells. */
  readonly statistics: ReportStatistics;
  /** The circuit's paper evaluation beside random head sets of its size; null without a circuit (or when not asked). */
  readonly random_circuit_control: RandomCircuitControl | null;
  /** p(end year | YY) at one start year (the paper's YY = 41 figure). */
  readonly probability_slice: ProbabilitySlice;
  /** The baseline on many unbalanced prompts (--baseline-n); null when not asked. */
  readonly large_baseline: StreamedBaseline | null;
}

/** p(end year | start year = yy), averaged over the prompts with that YY. */
export interface ProbabilitySlice {
  readonly yy: number;
  /** Prompts with this YY: what each curve averages. */
  readonly prompts: number;
  /** The model on clean prompts, p("00")…p("99"); null when no prompt has this YY. */
  readonly model: number[] | null;
  /** The paper's circuit evaluation; null without a circuit or without prompts. */
  readonly circuit_paper: number[] | null;
}

export function checkSliceYy(yy: number): number {
  if (!Number.isInteger(yy) || yy < 2 || yy > 98) {
    throw new InputError(`the probability slice's start year YY must be an integer in 2…98 (the prompts' YY range), got ${yy}`, "bad_slice_yy");
  }
  return yy;
}

export function bootstrapSettings(options: BootstrapOptions): ReportStatistics["bootstrap"] {
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  return {
    resamples,
    seed: options.seed ?? 0,
    confidence,
    method:
      `percentile bootstrap of the mean: ${resamples} resamples of the prompts with replacement, ` +
      `the ${(50 * (1 - confidence)).toFixed(1)} and ${(100 - 50 * (1 - confidence)).toFixed(1)} percentiles; sd with n − 1`,
  };
}

export function baselineStatistics(
  cleanProbs: Float64Array, corruptedProbs: Float64Array, yy: Int32Array, bootstrap: BootstrapOptions,
): BaselineStatistics {
  const clean = probabilityDifference(cleanProbs, yy);
  const corrupted = probabilityDifference(corruptedProbs, yy);
  return {
    prob_diff: summarizeMean(clean, bootstrap, "PD"),
    cutoff_sharpness: summarizeMean(cutoffSharpness(cleanProbs, yy), bootstrap, "CS"),
    corrupted_prob_diff: summarizeMean(corrupted, bootstrap, "corrupted PD"),
    corruption_effect: summarizeMean(clean.map((value, i) => value - corrupted[i]!), bootstrap, "PD − corrupted PD"),
  };
}

/**
 * The paper's circuit evaluation per prompt: PD, CS and the fraction of the model's PD, summarised.
 * `paper` is evaluateCircuitPaper's result with the year tokens' softmax (circuitEvaluationRuns' `paper`).
 */
export function paperCircuitStatistics(
  paper: CircuitEvaluationResult, yy: Int32Array, cleanProbs: Float64Array, bootstrap: BootstrapOptions,
): PaperCircuitStatistics {
  const { softmax } = paper;
  if (softmax === undefined || softmax.tokenLogits.shape[0] !== yy.length) {
    throw new PatchingError(
      "shape_mismatch",
      `paperCircuitStatistics needs the paper evaluation's softmax of the year tokens for ${yy.length} prompts, ` +
        `got ${softmax ? `${softmax.tokenLogits.shape[0]} rows` : "none (evaluate with { tokens: yearTokens })"}`,
    );
  }
  const probs = yearProbabilitiesFromLogSumExp(softmax!.tokenLogits.data, softmax!.logSumExp);
  const pd = probabilityDifference(probs, yy);
  return {
    prob_diff: summarizeMean(pd, bootstrap, "circuit PD"),
    cutoff_sharpness: summarizeMean(cutoffSharpness(probs, yy), bootstrap, "circuit CS"),
    fraction_of_baseline: summarizeRatioOfMeans(pd, probabilityDifference(cleanProbs, yy), bootstrap),
  };
}

/** The slice of the model's (and the circuit's) probability heatmap at start year `yy`. */
export function probabilitySlice(
  yy: number, promptYy: Int32Array,
  model: { readonly yy: readonly number[]; readonly mean_probability: readonly number[][] },
  circuit: { readonly yy: readonly number[]; readonly mean_probability: readonly number[][] } | null,
): ProbabilitySlice {
  const row = (heatmap: typeof model) => {
    const index = heatmap.yy.indexOf(yy);
    return index < 0 ? null : [...heatmap.mean_probability[index]!];
  };
  return {
    yy,
    prompts: promptYy.filter((value) => value === yy).length,
    model: row(model),
    circuit_paper: circuit ? row(circuit) : null,
  };
}
