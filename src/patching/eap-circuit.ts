import { type CircuitEvaluationResult, evaluateCircuitGraph } from "./circuit-evaluation.ts";
import { type EdgeGraph, isEdge, receiverComponent, receiverIndex, senderIndex } from "./eap-graph.ts";
import type { EdgeScores } from "./eap-scores.ts";
import { type Component, computeOrder, type NodeAt } from "./nodes.ts";
import type { PathActivations } from "./path-activations.ts";
import type { PathGraph } from "./path-engine.ts";
import { checkContext, type PathPatchingContext } from "./path-patching.ts";
import { PatchingError } from "./patching-error.ts";

/** A set of edges of an EdgeGraph: inCircuit[sender · receivers + receiver] is 1 for an edge of the circuit. */
export interface EdgeCircuit {
  readonly graph: EdgeGraph;
  readonly inCircuit: Uint8Array;
}

export function edgeCircuitSize(circuit: EdgeCircuit): number {
  let n = 0;
  for (const v of circuit.inCircuit) n += v;
  return n;
}

/** Every edge of the graph (the whole model). */
export function fullEdgeCircuit(graph: EdgeGraph): EdgeCircuit {
  const inCircuit = new Uint8Array(graph.senders.length * graph.receivers.length);
  graph.senders.forEach((s, i) => graph.receivers.forEach((r, j) => (inCircuit[i * graph.receivers.length + j] = isEdge(s, r) ? 1 : 0)));
  return { graph, inCircuit };
}

/** Edge indices (sender · receivers + receiver) by decreasing |score| (edges only). */
export function rankEdges(scores: EdgeScores): number[] {
  const order: number[] = [];
  scores.scores.forEach((v, i) => {
    if (!Number.isNaN(v)) order.push(i);
  });
  return order.sort((a, b) => Math.abs(scores.scores[b]!) - Math.abs(scores.scores[a]!) || a - b);
}

/**
 * The circuit of the k edges of largest |score|, then pruned until every edge's receiver has a path
 * to the logits and every edge's sender a path from the embedding (an edge that fails either can
 * carry no clean value from the input to the logits). The result may hold fewer than k edges.
 */
export function topEdgeCircuit(scores: EdgeScores, k: number, ranked = rankEdges(scores)): EdgeCircuit {
  if (!Number.isInteger(k) || k < 0) throw new PatchingError("bad_option", `edge count k must be a non-negative integer, got ${k}`);
  const { graph } = scores;
  const inCircuit = new Uint8Array(graph.senders.length * graph.receivers.length);
  for (const edge of ranked.slice(0, k)) inCircuit[edge] = 1;
  return pruneEdgeCircuit({ graph, inCircuit });
}

/** Removes edges until each one's sender is reached from the embedding and its receiver reaches the logits (in place; returns it). */
export function pruneEdgeCircuit(circuit: EdgeCircuit): EdgeCircuit {
  const { graph, inCircuit } = circuit;
  const S = graph.senders.length;
  const V = graph.receivers.length;
  const receiverSender = graph.receivers.map((r) => {
    const component = receiverComponent(r);
    return component === null ? -1 : senderIndex(graph, component);
  });
  for (let changed = true; changed;) {
    changed = false;
    // Senders are in compute order, so one forward pass finds what the embedding reaches.
    const fromInput = new Uint8Array(S);
    fromInput[0] = 1;
    for (let v = 0; v < V; v++) {
      const s = receiverSender[v]!;
      if (s < 0) continue;
      for (let u = 0; u < S; u++) if (inCircuit[u * V + v] && fromInput[u]) fromInput[s] = 1;
    }
    const toLogits = new Uint8Array(S);
    for (let u = S - 1; u >= 0; u--) {
      for (let v = 0; v < V; v++) {
        if (!inCircuit[u * V + v]) continue;
        const s = receiverSender[v]!;
        if (s < 0 || toLogits[s]) toLogits[u] = 1;
      }
    }
    for (let u = 0; u < S; u++) {
      for (let v = 0; v < V; v++) {
        const s = receiverSender[v]!;
        if (inCircuit[u * V + v] && (!fromInput[u] || (s >= 0 && !toLogits[s]))) {
          inCircuit[u * V + v] = 0;
          changed = true;
        }
      }
    }
  }
  return circuit;
}

/** The first position at which the two runs' embeddings differ (every activation before it is the same in both). */
function firstDifferingPosition(clean: PathActivations, corrupted: PathActivations): number {
  for (let p = 0; p < clean.pos; p++) {
    const a = clean.embedAt(p).data;
    const b = corrupted.embedAt(p).data;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return p;
  }
  return clean.pos;
}

/**
 * The circuit as a PathGraph over the corrupted run (base) towards the clean one (source): the
 * embedding at each position from `from` on is a sender; every head and MLP at those positions up to
 * the logit position is recomputed from its corrupted input plus the changes that its in-circuit
 * edges bring (the embedding's clean − corrupted, or an upstream node's recomputed − corrupted), so
 * each input is the sum of in-circuit edges' circuit values and out-of-circuit edges' corrupted
 * values (biases, identical in both runs, as in the corrupted run).
 */
export function edgeCircuitPathGraph(circuit: EdgeCircuit, from: number, logitPosition: number): PathGraph {
  const { graph, inCircuit } = circuit;
  const V = graph.receivers.length;
  const has = (sender: Component, to: Component | null, channel: "q" | "k" | "v" | "in") => {
    const r = receiverIndex(graph, to, channel);
    return r >= 0 && inCircuit[senderIndex(graph, sender) * V + r] === 1;
  };
  const senders: NodeAt[] = [];
  const recomputed: NodeAt[] = [];
  const hasInput = (c: Component) => graph.senders.some((u) => has(u, c, "q") || has(u, c, "k") || has(u, c, "v") || has(u, c, "in"));
  const active = graph.senders.filter((c) => c.kind !== "embed" && hasInput(c)).sort((a, b) => computeOrder(a) - computeOrder(b));
  for (let pos = from; pos <= logitPosition; pos++) {
    senders.push({ kind: "embed", pos });
    for (const c of active) recomputed.push({ ...c, pos } as NodeAt);
  }
  return {
    senders,
    recomputed,
    senderEdge: (sender, to, channel) => has(sender, to, channel),
    senderToLogits: (sender) => has(sender, null, "in"),
    edge: (node, to, channel) => has(node, to, channel),
    toLogits: (node) => has(node, null, "in"),
  };
}

/**
 * The exact edge-level evaluation of a circuit on the context's clean and corrupted runs (see
 * edgeCircuitPathGraph): every edge gives the clean metric, no edge the corrupted one.
 */
export function evaluateEdgeCircuit(context: PathPatchingContext, circuit: EdgeCircuit): CircuitEvaluationResult {
  checkContext(context);
  const from = firstDifferingPosition(context.clean, context.corrupted);
  return evaluateCircuitGraph(context, edgeCircuitPathGraph(circuit, from, context.logitPosition));
}

export interface FaithfulnessPoint {
  /** Edges asked for (top k by |score|) and kept after pruning. */
  readonly k: number;
  readonly edges: number;
  readonly metric: number;
  /** metric / the model's (clean) metric. */
  readonly fraction: number;
  /** (metric − corrupted) / (clean − corrupted). */
  readonly recovered: number;
}

/** The exact metric of the top-k circuit for each k of `grid`. */
export function faithfulnessCurve(
  context: PathPatchingContext, scores: EdgeScores, grid: readonly number[], onStep?: (done: number, total: number) => void,
): FaithfulnessPoint[] {
  const ranked = rankEdges(scores);
  return grid.map((k, i) => {
    const circuit = topEdgeCircuit(scores, k, ranked);
    const result = evaluateEdgeCircuit(context, circuit);
    onStep?.(i + 1, grid.length);
    return { k, edges: edgeCircuitSize(circuit), metric: result.metric, fraction: result.fractionOfBaseline, recovered: result.recovered };
  });
}
