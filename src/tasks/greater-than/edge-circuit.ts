import type { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import type { HeadComponent, MlpComponent } from "../../patching/circuit-evaluation.ts";
import {
  evaluateEdgeCircuit, type FaithfulnessPoint, faithfulnessCurve, rankEdges, topEdgeCircuit,
} from "../../patching/eap-circuit.ts";
import { edgeCount, edgeLabel, receiverComponent, receiverIndex, senderIndex } from "../../patching/eap-graph.ts";
import { edgeAttribution, type EdgeAttributionMethod, type EdgeScores } from "../../patching/eap-scores.ts";
import { componentLabel, type Component } from "../../patching/nodes.ts";
import type { PathPatchingContext } from "../../patching/path-patching.ts";
import type { GreaterThanPrompts } from "./dataset-file.ts";
import type { CircuitSpec } from "./circuit-spec.ts";
import { probabilityDifferenceGradientMetric } from "./pd-metric.ts";

export interface EdgeCircuitOptions {
  readonly method: EdgeAttributionMethod;
  /** EAP-IG steps (default 5). */
  readonly steps?: number;
  /** Edges of the circuit: the top K by |score| (default 200), pruned to those connected input → logits. */
  readonly edges?: number;
}

/** Path patching's grid cell beside the edge score of the same sender → receiver(s). */
export interface ScorePair {
  readonly sender: string;
  readonly receiver: string;
  readonly path_patching: number;
  readonly edge_score: number;
}

export interface EdgeAttributionReport {
  readonly method: EdgeAttributionMethod;
  readonly steps: number;
  readonly positions: number[];
  readonly total_edges: number;
  readonly edges_asked: number;
  /** The circuit's edges (after pruning), "L5H1 → L8H11.q", by decreasing |score|, with their scores. */
  readonly edges: { readonly edge: string; readonly score: number }[];
  readonly heads: string[];
  readonly mlps: string[];
  /** The exact edge-level evaluation of the circuit. */
  readonly prob_diff: number;
  readonly fraction_of_baseline: number;
  readonly recovered: number;
  readonly faithfulness: FaithfulnessPoint[];
  /** Filled in after the path-patching sweeps (scoreComparison). */
  comparison: ScorePair[];
}

const DEFAULT_EDGES = 200;

/**
 * Scores every edge (EAP or EAP-IG on the PD), keeps the top K connected edges, evaluates that
 * circuit exactly and traces the faithfulness curve; the circuit's heads and MLPs are returned as a
 * CircuitSpec for the report's other sections.
 */
export function discoverEdgeCircuit(
  model: HookedGpt2, data: GreaterThanPrompts, context: PathPatchingContext, yearTokens: readonly number[], options: EdgeCircuitOptions,
  progress: (stage: string, done: number, total: number) => void,
): { report: EdgeAttributionReport; circuit: CircuitSpec; scores: EdgeScores } {
  const stage = `edge attribution (${options.method})`;
  const scores = edgeAttribution(model, {
    clean: data.tokens, corrupted: data.corruptedTokens, method: options.method, ...(options.steps !== undefined ? { steps: options.steps } : {}),
    metric: (start, end) => probabilityDifferenceGradientMetric(yearTokens, Array.from(data.yy).slice(start, end)),
    onProgress: (done, total) => progress(stage, done, total),
  });
  const k = options.edges ?? DEFAULT_EDGES;
  const ranked = rankEdges(scores);
  const circuit = topEdgeCircuit(scores, k, ranked);
  progress("edge circuit evaluation", 0, 1);
  const exact = evaluateEdgeCircuit(context, circuit);
  const grid = [...new Set([...[10, 25, 50, 100, 200, 400, 800].filter((g) => g < ranked.length), k])].sort((a, b) => a - b);
  const faithfulness = faithfulnessCurve(context, scores, grid, (done, total) => progress("faithfulness curve", done, total));
  const { graph } = scores;
  const V = graph.receivers.length;
  const kept = ranked.filter((e) => circuit.inCircuit[e] === 1);
  const members = new Map<string, Component>();
  for (const e of kept) {
    for (const c of [graph.senders[Math.floor(e / V)]!, receiverComponent(graph.receivers[e % V]!)]) {
      if (c !== null && c.kind !== "embed") members.set(componentLabel(c), c);
    }
  }
  const heads = [...members.values()].filter((c): c is HeadComponent => c.kind === "head").sort((a, b) => a.layer - b.layer || a.head - b.head);
  const mlps = [...members.values()].filter((c): c is MlpComponent => c.kind === "mlp").sort((a, b) => a.layer - b.layer);
  return {
    scores,
    circuit: { heads, mlps },
    report: {
      method: scores.method,
      steps: scores.steps,
      positions: [...scores.positions],
      total_edges: edgeCount(graph),
      edges_asked: k,
      edges: kept.map((e) => ({ edge: edgeLabel(graph, Math.floor(e / V), e % V), score: scores.scores[e]! })),
      heads: heads.map(componentLabel),
      mlps: mlps.map(componentLabel),
      prob_diff: exact.metric,
      fraction_of_baseline: exact.fractionOfBaseline,
      recovered: exact.recovered,
      faithfulness,
      comparison: [],
    },
  };
}

/** A path-patching grid (senders at [layer][head | n_heads for the MLP]) and the receivers whose channels it patched. */
export interface GridForComparison {
  readonly receiver: string;
  readonly grid: readonly (readonly (number | null)[])[];
  /** Receiving components and channels; null for the logits. */
  readonly receivers: readonly { readonly component: Component | null; readonly channels: readonly ("q" | "k" | "v" | "in")[] }[];
}

/**
 * Each grid cell beside the sum of the edge scores from that sender into the grid's receivers'
 * channels (path patching patches one position's path; the edge scores sum over positions).
 */
export function scoreComparison(scores: EdgeScores, grids: readonly GridForComparison[]): ScorePair[] {
  const { graph } = scores;
  const V = graph.receivers.length;
  const nHeads = graph.config.nHeads;
  const pairs: ScorePair[] = [];
  for (const { receiver, grid, receivers } of grids) {
    grid.forEach((row, layer) => row.forEach((value, col) => {
      if (value === null) return;
      const sender: Component = col === nHeads ? { kind: "mlp", layer } : { kind: "head", layer, head: col };
      let total = 0;
      let any = false;
      for (const { component, channels } of receivers) {
        for (const channel of channels) {
          const r = receiverIndex(graph, component, channel);
          const v = r < 0 ? Number.NaN : scores.scores[senderIndex(graph, sender) * V + r]!;
          if (!Number.isNaN(v)) {
            total += v;
            any = true;
          }
        }
      }
      if (any) pairs.push({ sender: componentLabel(sender), receiver, path_patching: value, edge_score: total });
    }));
  }
  return pairs;
}
