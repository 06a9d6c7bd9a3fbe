/**
 * Circuit evaluations over the path engine, each a PathGraph run from one cached run (the base)
 * towards the other (the source):
 *
 * - `evaluateCircuitPaper` — Hanna, Liu & Variengien's evaluation. The model runs on the corrupted
 *   prompts; the circuit heads read the clean residual stream (all their inputs clean), so their
 *   outputs at `position` take their clean values; those outputs reach the circuit MLPs at
 *   `position` and the logits; each circuit MLP is recomputed from its corrupted input plus the
 *   changes of the circuit heads and of the earlier circuit MLPs, and its change reaches the later
 *   circuit MLPs and the logits. Every other path is corrupted. With `lower` nodes (the circuit below
 *   the heads, e.g. the embedding and MLPs at YY), those read the clean residual stream instead and
 *   the circuit heads are recomputed: their keys and values see the lower nodes' changes, their
 *   queries and every other input stay corrupted.
 * - `evaluateFullCircuit` — the stricter rule of `evaluateCircuit` (clean values only from the
 *   embeddings, through circuit nodes to the logits), with the same result type.
 *
 * `reverse` swaps base and source: the clean run with only the circuit's paths corrupted.
 */
import { unembedLogSumExp } from "../gpt2/components/unembed.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { checkComponent, componentLabel, type Component, computeOrder, type NodeAt, nodeLabel, sameNode } from "./nodes.ts";
import type { PathActivations } from "./path-activations.ts";
import { type PathGraph, patchedFinalResidual } from "./path-engine.ts";
import {
  baselineMetric, checkContext, checkPosition, checkVocabTokens, type CircuitEvaluation, fullCircuitGraph, metricOfFinalResidual,
  type PathPatchingContext,
} from "./path-patching.ts";
import { PatchingError } from "./patching-error.ts";

export type HeadComponent = Extract<Component, { kind: "head" }>;
export type MlpComponent = Extract<Component, { kind: "mlp" }>;

export interface PaperCircuit {
  readonly heads: readonly HeadComponent[];
  readonly mlps: readonly MlpComponent[];
  /** Where the heads' outputs and the MLPs are taken (END). */
  readonly position: number;
  /** Nodes below the heads that read the clean residual stream instead of them (default: none). */
  readonly lower?: readonly NodeAt[];
}

export interface CircuitEvaluationOptions {
  /** The clean run with only the circuit's paths carrying corrupted values (base and source swapped). */
  readonly reverse?: boolean;
  /** Also return each row's full-vocabulary log-sum-exp and these tokens' logits at the logit position. */
  readonly tokens?: readonly number[];
}

export interface PatchedSoftmax {
  readonly logSumExp: Float64Array;
  /** [batch, tokens.length] */
  readonly tokenLogits: Tensor;
}

export interface CircuitEvaluationResult extends CircuitEvaluation {
  readonly reverse: boolean;
  /** Present when `tokens` were asked for. */
  readonly softmax?: PatchedSoftmax;
}

/** The graph of `evaluateCircuitPaper` (base corrupted, source clean). */
export function paperCircuitGraph(circuit: PaperCircuit): PathGraph {
  const { position } = circuit;
  const heads: NodeAt[] = circuit.heads.map((h) => ({ kind: "head", layer: h.layer, head: h.head, pos: position }));
  const mlps: NodeAt[] = circuit.mlps.map((m): NodeAt => ({ kind: "mlp", layer: m.layer, pos: position }))
    .sort((a, b) => computeOrder(a) - computeOrder(b));
  const isHead = (node: NodeAt) => heads.some((h) => sameNode(h, node));
  const isMlp = (node: NodeAt) => mlps.some((m) => sameNode(m, node));
  const lower = circuit.lower ?? [];
  if (lower.length === 0) {
    return {
      senders: heads,
      recomputed: mlps,
      senderEdge: (_, to, channel) => channel === "in" && isMlp(to),
      senderToLogits: () => true,
      edge: (from, to, channel) => channel === "in" && isMlp(from) && isMlp(to),
      toLogits: (from) => isMlp(from),
    };
  }
  return {
    senders: lower,
    recomputed: [...heads, ...mlps],
    senderEdge: (_, to, channel) => (channel === "k" || channel === "v") && isHead(to),
    senderToLogits: () => false,
    edge: (from, to, channel) => channel === "in" && isMlp(to) && (isHead(from) || isMlp(from)),
    toLogits: (from) => isHead(from) || isMlp(from),
  };
}

function checkPaperCircuit(context: PathPatchingContext, circuit: PaperCircuit): void {
  const { config } = context.model;
  const pos = context.clean.pos;
  checkPosition("circuit", circuit.position, pos);
  const seen = new Set<string>();
  for (const component of [...circuit.heads, ...circuit.mlps]) {
    if (component.kind !== "head" && component.kind !== "mlp") {
      throw new PatchingError("unsupported_component", `circuit heads and MLPs must be heads and MLPs, got ${componentLabel(component)}`);
    }
    checkComponent(component, config);
    const label = componentLabel(component);
    if (seen.has(label)) throw new PatchingError("duplicate_component", `circuit lists ${label} twice`);
    seen.add(label);
  }
  for (const node of circuit.lower ?? []) {
    checkComponent(node, config);
    checkPosition(nodeLabel(node), node.pos, pos);
    if (node.kind !== "embed" && node.pos === circuit.position) {
      throw new PatchingError("bad_position", `lower circuit node ${nodeLabel(node)} sits at the heads' position; lower nodes feed the heads' keys and values from earlier positions`);
    }
  }
}

/** The paper's circuit evaluation (see the file comment for the exact rule). */
export function evaluateCircuitPaper(
  context: PathPatchingContext, circuit: PaperCircuit, options: CircuitEvaluationOptions = {},
): CircuitEvaluationResult {
  checkContext(context);
  checkPaperCircuit(context, circuit);
  return evaluateCircuitGraph(context, paperCircuitGraph(circuit), options);
}

/** `evaluateCircuit`'s stricter rule (clean values flow from the embeddings through circuit nodes only), with options. */
export function evaluateFullCircuit(
  context: PathPatchingContext, circuit: readonly NodeAt[], options: CircuitEvaluationOptions = {},
): CircuitEvaluationResult {
  checkContext(context);
  for (const node of circuit) {
    checkComponent(node, context.model.config);
    checkPosition(componentLabel(node), node.pos, context.clean.pos);
  }
  return evaluateCircuitGraph(context, fullCircuitGraph(context.clean.pos, circuit), options);
}

/** The metric (and optionally the softmax statistics) of a circuit graph run from corrupted towards clean, or the reverse. */
export function evaluateCircuitGraph(
  context: PathPatchingContext, graph: PathGraph, options: CircuitEvaluationOptions = {},
): CircuitEvaluationResult {
  const reverse = options.reverse ?? false;
  const [base, source] = reverse ? [context.clean, context.corrupted] : [context.corrupted, context.clean];
  const final = patchedFinalResidual(context.model.model, base, source, graph, context.logitPosition);
  const softmax = options.tokens ? patchedSoftmax(context, final, base, options.tokens) : undefined;
  const sameTokens = softmax && context.softmaxMetric && !context.metricTokens && equalLists(context.softmaxMetric.tokens, options.tokens!);
  const metric = sameTokens
    ? context.softmaxMetric!.fromLogSumExp(softmax.logSumExp, softmax.tokenLogits)
    : metricOfFinalResidual(context, final, base);
  const clean = baselineMetric(context, context.clean);
  const corrupted = baselineMetric(context, context.corrupted);
  return {
    metric,
    clean,
    corrupted,
    fractionOfBaseline: metric / clean,
    recovered: (metric - corrupted) / (clean - corrupted),
    reverse,
    ...(softmax ? { softmax } : {}),
  };
}

/** ln_final (frozen at `base`'s scale when the context says so) and the unembedding of a patched final residual, reduced to a softmax's statistics. */
export function patchedSoftmax(
  context: PathPatchingContext, final: Tensor, base: PathActivations, tokens: readonly number[],
): PatchedSoftmax {
  const model = context.model.model;
  checkVocabTokens(model, tokens);
  const ln = context.freezeFinalScale ? { frozenScale: base.finalScaleAt(context.logitPosition) } : {};
  return unembedLogSumExp(model, final, tokens, ln);
}

function equalLists(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
