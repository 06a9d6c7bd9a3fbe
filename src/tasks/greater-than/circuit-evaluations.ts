import type { CircuitSource } from "./circuit-spec.ts";
import {
  type CircuitEvaluationResult, evaluateCircuitPaper, evaluateFullCircuit, type HeadComponent, type MlpComponent,
} from "../../patching/circuit-evaluation.ts";
import { componentLabel, type NodeAt, nodeLabel } from "../../patching/nodes.ts";
import type { PathPatchingContext } from "../../patching/path-patching.ts";
import { cutoffSharpness, probabilityDifference, yearProbabilitiesFromLogSumExp } from "./metrics.ts";
import { meanRowsByYy } from "./yy-groups.ts";

/** One evaluation of the circuit: the patched model's metrics and its probability heatmap. */
export interface CircuitEvaluationEntry {
  /** The rule, in a sentence. */
  readonly rule: string;
  readonly prob_diff: number;
  readonly cutoff_sharpness: number;
  /** prob_diff / the model's PD. */
  readonly fraction_of_baseline: number;
  /** (prob_diff − corrupted PD) / (model PD − corrupted PD). */
  readonly recovered: number;
  /** Mean p(end year) per start year: rows follow `yy`, columns the years 00…99. */
  readonly mean_probability: number[][];
}

export interface CircuitEvaluationsReport {
  /** "found" by the selection rule or "given" (--circuit). */
  readonly source: CircuitSource;
  readonly heads: string[];
  readonly mlps: string[];
  /** The lower circuit at YY used by `upper_and_lower`. */
  readonly lower: string[];
  readonly yy: number[];
  /** The paper's evaluation: corrupted run; circuit heads read the clean stream; their outputs reach the circuit MLPs and the logits. */
  readonly paper: CircuitEvaluationEntry;
  /** The reverse: clean run with only the circuit's paths (as in `paper`) corrupted. */
  readonly paper_reverse: CircuitEvaluationEntry;
  /** The stricter rule (evaluateCircuit): clean values only from the embeddings, through every circuit node, to the logits. */
  readonly full_circuit: CircuitEvaluationEntry;
  /** Upper and lower circuit as in `paper`: the lower nodes read the clean stream and reach the heads' keys and values; null without circuit heads. */
  readonly upper_and_lower: CircuitEvaluationEntry | null;
}

export interface CircuitEvaluationsInput {
  readonly context: PathPatchingContext;
  readonly source: CircuitSource;
  readonly heads: readonly HeadComponent[];
  readonly mlps: readonly MlpComponent[];
  /** The circuit nodes of the stricter rule (heads and MLPs at END, senders at YY). */
  readonly fullCircuitNodes: readonly NodeAt[];
  readonly lower: readonly NodeAt[];
  readonly yearTokens: readonly number[];
  readonly yy: Int32Array;
  readonly end: number;
  /** The YY position, for labels. */
  readonly yyPosition: number;
  readonly onStep?: (label: string) => void;
}

const RULES = {
  paper: "corrupted prompts; the circuit heads read the clean residual stream; their outputs at END reach the circuit MLPs and the logits; each circuit MLP takes the heads' and earlier circuit MLPs' changes; every other path corrupted",
  paper_reverse: "clean prompts; only the circuit's paths (as in the paper's evaluation) carry corrupted values",
  full_circuit: "corrupted prompts; clean values flow only from the embeddings through circuit nodes (senders at YY, heads, MLPs) to the logits",
  upper_and_lower: "corrupted prompts; the lower circuit at YY reads the clean residual stream and reaches the circuit heads' keys and values (their queries corrupted); heads → circuit MLPs → logits",
} as const;

function entry(result: CircuitEvaluationResult, rule: string, yy: Int32Array): CircuitEvaluationEntry {
  const { logSumExp, tokenLogits } = result.softmax!;
  const probs = yearProbabilitiesFromLogSumExp(tokenLogits.data, logSumExp);
  const mean = (values: Float64Array) => values.reduce((a, b) => a + b, 0) / values.length;
  const prob_diff = mean(probabilityDifference(probs, yy));
  return {
    rule,
    prob_diff,
    cutoff_sharpness: mean(cutoffSharpness(probs, yy)),
    fraction_of_baseline: prob_diff / result.clean,
    recovered: (prob_diff - result.corrupted) / (result.clean - result.corrupted),
    mean_probability: meanRowsByYy(probs, 100, yy).rows,
  };
}

/** The circuit's evaluations (paper, reverse, stricter full circuit, upper + lower), each with its patched heatmap. */
export function circuitEvaluations(input: CircuitEvaluationsInput): CircuitEvaluationsReport {
  return circuitEvaluationRuns(input).report;
}

/**
 * circuitEvaluations' report and the paper evaluation's patched run (metric and per-prompt softmax),
 * which the per-prompt statistics and the random-circuit control read instead of evaluating it again.
 */
export function circuitEvaluationRuns(input: CircuitEvaluationsInput): { report: CircuitEvaluationsReport; paper: CircuitEvaluationResult } {
  const { context, heads, mlps, yy, end } = input;
  const step = input.onStep ?? (() => {});
  const tokens = input.yearTokens;
  const circuit = { heads, mlps, position: end };
  step("paper");
  const paperRun = evaluateCircuitPaper(context, circuit, { tokens });
  const paper = entry(paperRun, RULES.paper, yy);
  step("paper, reversed");
  const paperReverse = entry(evaluateCircuitPaper(context, circuit, { tokens, reverse: true }), RULES.paper_reverse, yy);
  step("full circuit");
  const full = entry(evaluateFullCircuit(context, input.fullCircuitNodes, { tokens }), RULES.full_circuit, yy);
  step("upper and lower circuit");
  const upperAndLower = heads.length && input.lower.length
    ? entry(evaluateCircuitPaper(context, { ...circuit, lower: input.lower }, { tokens }), RULES.upper_and_lower, yy)
    : null;
  const report: CircuitEvaluationsReport = {
    source: input.source,
    heads: heads.map(componentLabel),
    mlps: [...mlps].sort((a, b) => a.layer - b.layer).map(componentLabel),
    lower: input.lower.map((node) => (node.pos === input.yyPosition ? `${componentLabel(node)}@YY` : nodeLabel(node))),
    yy: [...new Set(yy)].sort((a, b) => a - b),
    paper,
    paper_reverse: paperReverse,
    full_circuit: full,
    upper_and_lower: upperAndLower,
  };
  return { report, paper: paperRun };
}
