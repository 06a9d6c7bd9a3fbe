import type { Gpt2Model } from "../gpt2/model.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type Channel, computeOrder, entersThrough, type NodeAt } from "./nodes.ts";
import type { PathActivations } from "./path-activations.ts";
import { PatchingError } from "./patching-error.ts";
import { cachedHeadOutput, minus, plus, recomputeHeadOutput, recomputeMlpOutput } from "./recompute.ts";

/**
 * A treeified path-patching graph. Each sender's output changes by (source − base); that change
 * enters only the inputs `senderEdge` allows (and the final residual stream when `senderToLogits`).
 * Each recomputed node reads its base input plus the changes that reach it through `edge` (from
 * senders, through `senderEdge`; from other recomputed nodes, through `edge`), and its own change
 * reaches the final residual stream when `toLogits`. Every other node keeps its base value.
 * A node that is both a sender and recomputed carries two separate changes: as a sender, its
 * patched output travels only along `senderEdge`; as a recomputed node, only what reached its
 * inputs. Edges must also be structurally possible (upstream, matching positions).
 */
export interface PathGraph {
  readonly senders: readonly NodeAt[];
  /** Recomputed nodes; processed in compute order. */
  readonly recomputed: readonly NodeAt[];
  readonly senderEdge: (sender: NodeAt, to: NodeAt, channel: Channel) => boolean;
  readonly senderToLogits: (sender: NodeAt) => boolean;
  readonly edge: (from: NodeAt, to: NodeAt, channel: Channel) => boolean;
  readonly toLogits: (from: NodeAt) => boolean;
}

function nodeOutput(model: Gpt2Model, acts: PathActivations, node: NodeAt): Tensor {
  if (node.kind === "embed") return acts.embedAt(node.pos);
  if (node.kind === "mlp") return acts.residualAt(node.layer, "hook_mlp_out", node.pos);
  return cachedHeadOutput(model, acts, node.layer, node.head, node.pos);
}

interface Change {
  readonly node: NodeAt;
  readonly delta: Tensor;
  readonly asSender: boolean;
}

function accumulate(target: Map<number, Tensor>, at: number, delta: Tensor): void {
  const existing = target.get(at);
  target.set(at, existing ? plus(existing, delta) : delta);
}

/** The final residual stream at `logitPosition` after the graph's paths are patched, [batch, d_model]. */
export function patchedFinalResidual(
  model: Gpt2Model, base: PathActivations, source: PathActivations, graph: PathGraph, logitPosition: number,
): Tensor {
  if (base.batch !== source.batch || base.pos !== source.pos) {
    throw new PatchingError(
      "shape_mismatch",
      `base and source runs differ in shape: [${base.batch}, ${base.pos}] vs [${source.batch}, ${source.pos}]`,
    );
  }
  const changes: Change[] = graph.senders.map((node) => ({
    node,
    delta: minus(nodeOutput(model, source, node), nodeOutput(model, base, node)),
    asSender: true,
  }));
  const ordered = [...graph.recomputed].sort((a, b) => computeOrder(a) - computeOrder(b) || a.pos - b.pos);
  for (const node of ordered) {
    const arriving = (channel: Channel) => {
      const byPos = new Map<number, Tensor>();
      for (const change of changes) {
        const allowed = change.asSender ? graph.senderEdge(change.node, node, channel) : graph.edge(change.node, node, channel);
        if (allowed && entersThrough(change.node, node, channel)) accumulate(byPos, change.node.pos, change.delta);
      }
      return byPos;
    };
    let output: Tensor | null = null;
    if (node.kind === "mlp") {
      const input = arriving("in").get(node.pos);
      if (input) output = recomputeMlpOutput(model, base, node.layer, node.pos, input);
    } else if (node.kind === "head") {
      const q = arriving("q").get(node.pos);
      const k = arriving("k");
      const v = arriving("v");
      if (q || k.size || v.size) output = recomputeHeadOutput(model, base, node.layer, node.head, node.pos, { q, k, v });
    }
    if (output) changes.push({ node, delta: minus(output, nodeOutput(model, base, node)), asSender: false });
  }
  let final = base.finalResidAt(logitPosition);
  for (const change of changes) {
    const reaches = change.asSender ? graph.senderToLogits(change.node) : graph.toLogits(change.node);
    if (change.node.pos === logitPosition && reaches) final = plus(final, change.delta);
  }
  return final;
}
