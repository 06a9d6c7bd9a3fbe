import { headDeltaUnembedMetrics } from "../gpt2/components/head-delta-unembed.ts";
import { unembed, unembedLogSumExp, unembedTokens } from "../gpt2/components/unembed.ts";
import type { Gpt2Model } from "../gpt2/model.ts";
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  allComponents, type Channel, checkComponent, type Component, componentLabel, componentName, entersThrough, isUpstream,
  type NodeAt, nodeLabel, sameNode,
} from "./nodes.ts";
import { htmlGrid, JUPYTER_DISPLAY_SYMBOL } from "./html-grid.ts";
import type { PathActivations } from "./path-activations.ts";
import { type PathGraph, patchedFinalResidual } from "./path-engine.ts";
import { PatchingError } from "./patching-error.ts";
import { minus } from "./recompute.ts";

/**
 * One clean and one corrupted cached run, the metric and where it reads the logits. Treated as
 * immutable: the unpatched runs' metric is computed once per context (see baselineMetric).
 */
export interface PathPatchingContext {
  readonly model: HookedGpt2;
  readonly clean: PathActivations;
  readonly corrupted: PathActivations;
  /** The position whose logits the metric reads (END). */
  readonly logitPosition: number;
  /**
   * A scalar of the logits at `logitPosition`: [batch, d_vocab] (e.g. the mean probability
   * difference), or [batch, metricTokens.length] when `metricTokens` is set.
   */
  readonly metric: (logits: Tensor) => number;
  /**
   * Compute only these tokens' logits for the metric (e.g. a logit difference). The full-vocabulary
   * unembedding dominates a sweep's cost; without it a sweep costs a fraction of a forward pass.
   */
  readonly metricTokens?: readonly number[];
  /**
   * The metric from each row's full-vocabulary log-sum-exp and the logits of a few tokens
   * ([batch, tokens.length]), e.g. probabilities of the year tokens. Used instead of `metric` when
   * given (and `metricTokens` is not): the same numbers, without holding [batch, d_vocab] logits.
   */
  readonly softmaxMetric?: SoftmaxMetric;
  /** Divide by the base run's ln_final scale instead of recomputing it (makes sender→logits linear). */
  readonly freezeFinalScale?: boolean;
}

export interface SoftmaxMetric {
  readonly tokens: readonly number[];
  readonly fromLogSumExp: (logSumExp: Float64Array, tokenLogits: Tensor) => number;
}

/** A node whose input on the given channels receives the senders' changes. */
export interface ReceiverInput {
  readonly node: NodeAt;
  readonly channels: readonly Channel[];
}

export interface PathPatchingSweepOptions {
  /** Default: every head and MLP. */
  readonly senders?: readonly Component[];
  readonly senderPosition: number;
  /** "logits" for the direct path to the final residual stream. */
  readonly receivers: "logits" | readonly ReceiverInput[];
  /**
   * Downstream nodes the receivers' changes flow through to the logits (e.g. MLPs 11 and 10 at END).
   * A node given as `{ node, channels }` takes those changes only on these inputs (e.g. a head's keys
   * and values); a plain node takes them on every input.
   */
  readonly continuation?: readonly ContinuationNode[];
}

export type ContinuationNode = NodeAt | ReceiverInput;

function continuationNode(entry: ContinuationNode): NodeAt {
  return "node" in entry ? entry.node : entry;
}

function continuationTakes(entry: ContinuationNode, channel: Channel): boolean {
  return !("node" in entry) || entry.channels.includes(channel);
}

export interface PathPatchingGrid {
  readonly receiver: string;
  readonly continuation: string[];
  /** grid[layer][head], head = n_heads for the MLP: mean change of the metric; null where not upstream. */
  readonly grid: (number | null)[][];
  readonly baseline: number;
  readonly senderLabels: string[][];
  /** Notebook display (Deno's Jupyter kernel): the grid as a coloured table. */
  [JUPYTER_DISPLAY_SYMBOL](): { "text/html": string };
}

function gridDisplay(grid: Omit<PathPatchingGrid, typeof JUPYTER_DISPLAY_SYMBOL>): PathPatchingGrid {
  const nHeads = (grid.grid[0]?.length ?? 1) - 1;
  const via = grid.continuation.length ? ` via ${grid.continuation.join(", ")}` : "";
  return {
    ...grid,
    [JUPYTER_DISPLAY_SYMBOL]: () => ({
      "text/html": htmlGrid({
        caption: `path patching senders → ${grid.receiver}${via}: change of the metric (baseline ${grid.baseline.toPrecision(4)})`,
        rowLabels: grid.grid.map((_, layer) => `L${layer}`),
        colLabels: [...Array.from({ length: nHeads }, (_, h) => `H${h}`), "MLP"],
        values: grid.grid,
        cellTitle: (row, col, value) => `${grid.senderLabels[row]?.[col] ?? ""}: ${value ?? "not upstream"}`,
      }),
    }),
  };
}

export function checkContext(context: PathPatchingContext): void {
  const { clean, corrupted, logitPosition } = context;
  if (clean.batch !== corrupted.batch || clean.pos !== corrupted.pos) {
    throw new PatchingError(
      "shape_mismatch",
      `clean and corrupted runs differ in shape: [${clean.batch}, ${clean.pos}] vs [${corrupted.batch}, ${corrupted.pos}]`,
    );
  }
  if (!Number.isInteger(logitPosition) || logitPosition < 0 || logitPosition >= clean.pos) {
    throw new PatchingError("bad_position", `logit position ${logitPosition} is outside [0, ${clean.pos})`);
  }
}

export function checkPosition(what: string, pos: number, length: number): void {
  if (!Number.isInteger(pos) || pos < 0 || pos >= length) {
    throw new PatchingError("bad_position", `${what} position ${pos} is outside [0, ${length})`);
  }
}

/** Metric tokens must be ids of the model's vocabulary. */
export function checkVocabTokens(model: Gpt2Model, tokens: readonly number[]): void {
  for (const token of tokens) {
    if (!Number.isInteger(token) || token < 0 || token >= model.config.dVocab) {
      throw new PatchingError("bad_token", `metric token ${token} is outside the vocabulary [0, ${model.config.dVocab})`);
    }
  }
}

/** Metric of the logits after the graph's paths carry (source − base) changes. */
export function evaluatePaths(
  context: PathPatchingContext, graph: PathGraph, base: PathActivations, source: PathActivations,
): number {
  return metricOfFinalResidual(context, patchedFinalResidual(context.model.model, base, source, graph, context.logitPosition), base);
}

/** The context's metric of a final residual stream at the logit position (ln_final frozen at `base`'s scale when the context says so). */
export function metricOfFinalResidual(context: PathPatchingContext, final: Tensor, base: PathActivations): number {
  const model = context.model.model;
  const ln = context.freezeFinalScale ? { frozenScale: base.finalScaleAt(context.logitPosition) } : {};
  if (context.metricTokens) {
    checkVocabTokens(model, context.metricTokens);
    return context.metric(unembedTokens(model, final, context.metricTokens, ln));
  }
  if (context.softmaxMetric) {
    checkVocabTokens(model, context.softmaxMetric.tokens);
    const { logSumExp, tokenLogits } = unembedLogSumExp(model, final, context.softmaxMetric.tokens, ln);
    return context.softmaxMetric.fromLogSumExp(logSumExp, tokenLogits);
  }
  return context.metric(unembed(model, final, ln));
}

const baselines = new WeakMap<PathPatchingContext, WeakMap<PathActivations, number>>();

/**
 * The metric of an unpatched cached run. It is computed once per context and run (a full-vocabulary
 * softmax metric costs a whole unembedding): sweeps, single paths and circuit evaluations that share
 * a context share it, so a context and its runs must not be changed after use.
 */
export function baselineMetric(context: PathPatchingContext, run: PathActivations): number {
  let byRun = baselines.get(context);
  if (byRun === undefined) {
    byRun = new WeakMap();
    baselines.set(context, byRun);
  }
  const known = byRun.get(run);
  if (known !== undefined) return known;
  const empty: PathGraph = { senders: [], recomputed: [], senderEdge: () => false, senderToLogits: () => false, edge: () => false, toLogits: () => false };
  const value = evaluatePaths(context, empty, run, run);
  byRun.set(run, value);
  return value;
}

function receiverName(receivers: PathPatchingSweepOptions["receivers"]): string {
  if (receivers === "logits") return "logits";
  return receivers
    .map(({ node, channels }) => `${componentName(node)}${node.kind === "head" ? `.${channels.join("")}` : ""}@${node.pos}`)
    .join(",");
}

function continuationName(entry: ContinuationNode): string {
  const node = continuationNode(entry);
  return "node" in entry && node.kind === "head" ? `${componentName(node)}.${entry.channels.join("")}` : componentName(node);
}

/**
 * Path patching of each sender at `senderPosition` separately: the path sender → receivers →
 * continuation → logits carries corrupted − clean; everything else stays clean.
 */
export function pathPatchingSweep(context: PathPatchingContext, options: PathPatchingSweepOptions): PathPatchingGrid {
  checkContext(context);
  const { config } = context.model;
  const { clean, corrupted } = context;
  checkPosition("sender", options.senderPosition, clean.pos);
  const continuation = options.continuation ?? [];
  const receivers = options.receivers;
  const receiverNodes = receivers === "logits" ? [] : receivers.map((r) => r.node);
  for (const node of [...receiverNodes, ...continuation.map(continuationNode)]) checkPosition(componentLabel(node), node.pos, clean.pos);
  const senders = options.senders ?? allComponents(config);
  for (const component of senders) checkComponent(component, config);
  const baseline = baselineMetric(context, clean);
  const grid: (number | null)[][] = Array.from({ length: config.nLayers }, () => new Array(config.nHeads + 1).fill(null));
  const senderLabels = grid.map((row, layer) =>
    row.map((_, h) => componentLabel(h === config.nHeads ? { kind: "mlp", layer } : { kind: "head", layer, head: h })),
  );
  const viaHeadSpace = headSpaceValues(context, options, senders);
  for (const component of senders) {
    if (component.kind === "embed") throw new PatchingError("unsupported_sender", "the sweep grid has no cell for the embedding");
    if (component.kind === "head" && viaHeadSpace) {
      grid[component.layer]![component.head] = viaHeadSpace.get(`${component.layer}.${component.head}`)! - baseline;
      continue;
    }
    const sender: NodeAt = { ...component, pos: options.senderPosition };
    const reachesReceiver =
      receivers === "logits" || receivers.some((r) => isUpstream(sender, r.node));
    if (!reachesReceiver) continue;
    const graph = sweepGraph(sender, receivers, continuation);
    const value = evaluatePaths(context, graph, clean, corrupted) - baseline;
    grid[component.layer]![component.kind === "mlp" ? config.nHeads : component.head] = value;
  }
  return gridDisplay({
    receiver: receiverName(receivers),
    continuation: continuation.map((entry) => continuationName(entry)),
    grid,
    baseline,
    senderLabels,
  });
}

/**
 * Head senders straight into the logits under a softmax metric go through each head's d_head-wide
 * output space (headToLogitsMetrics: same values, a fraction of the FLOPs). Null when that route
 * does not apply (other receivers, token metrics, frozen ln_final, senders off the logit position).
 */
function headSpaceValues(
  context: PathPatchingContext, options: PathPatchingSweepOptions, senders: readonly Component[],
): Map<string, number> | null {
  const { softmaxMetric } = context;
  if (options.receivers !== "logits" || !softmaxMetric || context.metricTokens || context.freezeFinalScale) return null;
  if (options.senderPosition !== context.logitPosition) return null;
  const heads = senders.flatMap((c) => (c.kind === "head" ? [{ layer: c.layer, head: c.head }] : []));
  if (heads.length === 0) return null;
  const { clean, corrupted, logitPosition: at } = context;
  checkVocabTokens(context.model.model, softmaxMetric.tokens);
  const values = headDeltaUnembedMetrics(context.model.model, {
    finalResid: clean.finalResidAt(at),
    heads,
    dz: (layer, head) => minus(corrupted.headAt(layer, "attn.hook_z", head, at), clean.headAt(layer, "attn.hook_z", head, at)),
    tokens: softmaxMetric.tokens,
    metric: softmaxMetric.fromLogSumExp,
  });
  return new Map(heads.map((h, i) => [`${h.layer}.${h.head}`, values[i]!]));
}

/**
 * The graph of one path: the sender's change enters only the receivers' channels (or the final
 * residual stream for "logits"); receivers' changes reach the logits directly and through the
 * continuation nodes. A sender that is also a receiver or a continuation node passes on no change
 * of its own: it is recomputed like any other such node, from what reaches its inputs.
 */
function sweepGraph(sender: NodeAt, receivers: PathPatchingSweepOptions["receivers"], entries: readonly ContinuationNode[]): PathGraph {
  const continuation = entries.map(continuationNode);
  if (receivers === "logits") {
    return {
      senders: [sender], recomputed: [],
      senderEdge: () => false, senderToLogits: () => true,
      edge: () => false, toLogits: () => false,
    };
  }
  const isReceiver = (node: NodeAt) => receivers.some((r) => sameNode(r.node, node));
  const inContinuation = (node: NodeAt) => continuation.some((c) => sameNode(c, node));
  return {
    senders: [sender],
    recomputed: [...receivers.map((r) => r.node), ...continuation.filter((c) => !isReceiver(c))],
    senderEdge: (_, to, channel) => receivers.some((r) => sameNode(r.node, to) && r.channels.includes(channel)),
    senderToLogits: () => false,
    edge: (from, to, channel) =>
      (isReceiver(from) || inContinuation(from)) && !isReceiver(to) &&
      entries.some((entry) => sameNode(continuationNode(entry), to) && continuationTakes(entry, channel)),
    toLogits: (from) => isReceiver(from) || inContinuation(from),
  };
}

export interface PathPatchOptions {
  readonly sender: NodeAt;
  readonly receivers: "logits" | readonly ReceiverInput[];
  readonly continuation?: readonly ContinuationNode[];
}

/**
 * Patches one path sender → receivers → continuation → logits with corrupted − clean and returns
 * the change of the metric. A sender that feeds none of the receivers is an error.
 */
export function pathPatch(context: PathPatchingContext, options: PathPatchOptions): number {
  const graph = pathPatchGraph(context, options);
  return evaluatePaths(context, graph, context.clean, context.corrupted) - baselineMetric(context, context.clean);
}

/** pathPatch's graph, after its checks of the context and the path. */
export function pathPatchGraph(context: PathPatchingContext, options: PathPatchOptions): PathGraph {
  checkContext(context);
  const { sender, receivers } = options;
  const continuation = options.continuation ?? [];
  const nodes = [sender, ...(receivers === "logits" ? [] : receivers.map((r) => r.node)), ...continuation.map(continuationNode)];
  for (const node of nodes) {
    checkComponent(node, context.model.config);
    checkPosition(componentLabel(node), node.pos, context.clean.pos);
  }
  if (receivers !== "logits") {
    if (receivers.length === 0) throw new PatchingError("no_receiver", "path patching needs at least one receiver (or \"logits\")");
    const fed = receivers.some((r) => r.channels.some((channel) => entersThrough(sender, r.node, channel)));
    if (!fed) {
      throw new PatchingError(
        "not_upstream",
        `sender ${nodeLabel(sender)} is not upstream of receiver(s) ${receivers.map((r) => `${nodeLabel(r.node)} (${r.channels.join(",")})`).join(", ")}: ` +
          "a sender must be computed before the receiver reads it, at a position the channel reads",
      );
    }
  }
  return sweepGraph(sender, receivers, continuation);
}

export interface CircuitEvaluation {
  readonly metric: number;
  readonly clean: number;
  readonly corrupted: number;
  /** metric / clean: the circuit's metric as a fraction of the model's. */
  readonly fractionOfBaseline: number;
  /** (metric − corrupted) / (clean − corrupted). */
  readonly recovered: number;
}

/**
 * Evaluates a circuit: the corrupted run, in which clean values flow only along the circuit's paths
 * (from the embeddings, through circuit nodes, to the logits). Every node not in the circuit keeps
 * its corrupted value. With every node of the model in the circuit this gives the clean run.
 */
export function evaluateCircuit(context: PathPatchingContext, circuit: readonly NodeAt[]): CircuitEvaluation {
  checkContext(context);
  const { clean, corrupted } = context;
  for (const node of circuit) checkPosition(componentLabel(node), node.pos, clean.pos);
  const metric = evaluatePaths(context, fullCircuitGraph(clean.pos, circuit), corrupted, clean);
  const cleanMetric = baselineMetric(context, clean);
  const corruptedMetric = baselineMetric(context, corrupted);
  return {
    metric,
    clean: cleanMetric,
    corrupted: corruptedMetric,
    fractionOfBaseline: metric / cleanMetric,
    recovered: (metric - corruptedMetric) / (cleanMetric - corruptedMetric),
  };
}

/**
 * evaluateCircuit's graph over prompts of `positions` tokens: every embedding is a sender; its change
 * enters only circuit nodes, which are recomputed from the changes of the embeddings and of other
 * circuit nodes and pass theirs on to circuit nodes and the logits.
 */
export function fullCircuitGraph(positions: number, circuit: readonly NodeAt[]): PathGraph {
  const embeds: NodeAt[] = Array.from({ length: positions }, (_, pos) => ({ kind: "embed", pos }));
  const members = circuit.filter((node) => node.kind !== "embed");
  const inCircuit = (node: NodeAt) => node.kind === "embed" || members.some((m) => sameNode(m, node));
  return {
    senders: embeds,
    recomputed: members,
    senderEdge: () => true,
    senderToLogits: () => true,
    edge: (from) => inCircuit(from),
    toLogits: (from) => inCircuit(from),
  };
}
