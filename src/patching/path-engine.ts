import type { Gpt2Model } from "../gpt2/model.ts";
import { layerNormAffine, layerNormNormalize, layerNormScale } from "../tensor/layer-norm.ts";
import { linear } from "../tensor/matmul.ts";
import { productLogSumExp } from "../tensor/product-log-sum-exp.ts";
import { Tensor } from "../tensor/tensor.ts";
import { type Channel, entersThrough, type NodeAt, computeOrder } from "./nodes.ts";
import type { PathActivations } from "./path-activations.ts";
import { PatchingError } from "./patching-error.ts";
import { addRows, cachedHeadOutput, recomputeHeadOutput, recomputeMlpOutput, rowsAt, subRows } from "./recompute.ts";

/**
 * A treeified path-patching graph. Senders' outputs change by (source − base); each recomputed node
 * reads its base input plus the deltas that reach it through allowed edges; every other node keeps
 * its base value. Edges must also be structurally possible (upstream, matching positions).
 */
export interface PathGraph {
  readonly senders: readonly NodeAt[];
  /** Recomputed nodes; processed in compute order. */
  readonly recomputed: readonly NodeAt[];
  readonly edge: (from: NodeAt, to: NodeAt, channel: Channel) => boolean;
  readonly toLogits: (from: NodeAt) => boolean;
}

function nodeOutput(model: Gpt2Model, acts: PathActivations, node: NodeAt): Float32Array {
  const d = model.config.dModel;
  if (node.kind === "embed") return rowsAt(acts.embed, acts.batch, acts.pos, d, node.pos);
  if (node.kind === "mlp") return rowsAt(acts.mlpOut[node.layer]!, acts.batch, acts.pos, d, node.pos);
  return cachedHeadOutput(model, acts, node.layer, node.head, node.pos);
}

function accumulate(target: Map<number, Float32Array>, at: number, delta: Float32Array): void {
  const existing = target.get(at);
  target.set(at, existing ? addRows(existing, delta) : delta);
}

/** The final residual stream at `logitPosition` after the graph's paths are patched, [batch, d_model]. */
export function patchedFinalResidual(
  model: Gpt2Model, base: PathActivations, source: PathActivations, graph: PathGraph, logitPosition: number,
): Float32Array {
  if (base.batch !== source.batch || base.pos !== source.pos) {
    throw new PatchingError(
      "shape_mismatch",
      `base and source runs differ in shape: [${base.batch}, ${base.pos}] vs [${source.batch}, ${source.pos}]`,
    );
  }
  const d = model.config.dModel;
  const deltas: { node: NodeAt; delta: Float32Array }[] = graph.senders.map((node) => ({
    node,
    delta: subRows(nodeOutput(model, source, node), nodeOutput(model, base, node)),
  }));
  const ordered = [...graph.recomputed].sort((a, b) => computeOrder(a) - computeOrder(b) || a.pos - b.pos);
  for (const node of ordered) {
    const arriving = (channel: Channel) => {
      const byPos = new Map<number, Float32Array>();
      for (const { node: from, delta } of deltas) {
        if (entersThrough(from, node, channel) && graph.edge(from, node, channel)) accumulate(byPos, from.pos, delta);
      }
      return byPos;
    };
    let output: Float32Array | null = null;
    if (node.kind === "mlp") {
      const input = arriving("in").get(node.pos);
      if (input) output = recomputeMlpOutput(model, base, node.layer, node.pos, input);
    } else if (node.kind === "head") {
      const q = arriving("q").get(node.pos);
      const k = arriving("k");
      const v = arriving("v");
      if (q || k.size || v.size) output = recomputeHeadOutput(model, base, node.layer, node.head, node.pos, { q, k, v });
    }
    if (output) deltas.push({ node, delta: subRows(output, nodeOutput(model, base, node)) });
  }
  let final = rowsAt(base.finalResid, base.batch, base.pos, d, logitPosition);
  for (const { node, delta } of deltas) {
    if (node.pos === logitPosition && graph.toLogits(node)) final = addRows(final, delta);
  }
  return final;
}

/**
 * ln_final and the unembedding on final residual rows [rows, d_model] → logits [rows, d_vocab].
 * With `frozenScale` ([rows]) the LayerNorm divides by those scales instead of recomputing them,
 * which makes the logits linear in the residual stream.
 */
export function unembedRows(model: Gpt2Model, residual: Float32Array, frozenScale?: Float32Array): Tensor {
  return linear(model.backend, finalLayerNorm(model, residual, frozenScale), model.prepared.unembed);
}

/** Like unembedRows for a few tokens only → [rows, tokens.length]: d_model·T work per row, not d_model·d_vocab. */
export function unembedTokens(model: Gpt2Model, residual: Float32Array, tokens: readonly number[], frozenScale?: Float32Array): Tensor {
  const { dModel: d, dVocab } = model.config;
  const normalized = finalLayerNorm(model, residual, frozenScale).data;
  const rows = normalized.length / d;
  const out = new Float32Array(rows * tokens.length);
  checkVocabTokens(model, tokens);
  tokens.forEach((token, t) => {
    const direction = model.weights.unembedTransposed.subarray(token * d, (token + 1) * d);
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      for (let j = 0; j < d; j++) acc += normalized[r * d + j]! * direction[j]!;
      out[r * tokens.length + t] = acc;
    }
  });
  return new Tensor(out, [rows, tokens.length]);
}

/**
 * ln_final and the unembedding on final residual rows, reduced to what a softmax metric needs: each
 * row's log-sum-exp over the whole vocabulary and the logits of `tokens` ([rows, tokens.length]).
 * The [rows, d_vocab] logits are never held at once.
 */
export function unembedLogSumExp(
  model: Gpt2Model, residual: Float32Array, tokens: readonly number[], frozenScale?: Float32Array,
): { logSumExp: Float64Array; tokenLogits: Tensor } {
  const normalized = finalLayerNorm(model, residual, frozenScale);
  const rows = normalized.shape[0]!;
  checkVocabTokens(model, tokens);
  const { logSumExp, picked } = productLogSumExp(model.backend, normalized.data, rows, model.prepared.unembed, tokens);
  return { logSumExp, tokenLogits: new Tensor(picked, [rows, tokens.length]) };
}

/** Metric tokens must be ids of the model's vocabulary. */
export function checkVocabTokens(model: Gpt2Model, tokens: readonly number[]): void {
  for (const token of tokens) {
    if (!Number.isInteger(token) || token < 0 || token >= model.config.dVocab) {
      throw new PatchingError("bad_token", `metric token ${token} is outside the vocabulary [0, ${model.config.dVocab})`);
    }
  }
}

function finalLayerNorm(model: Gpt2Model, residual: Float32Array, frozenScale?: Float32Array): Tensor {
  const { dModel: d, layerNormEps } = model.config;
  const rows = residual.length / d;
  const x = new Tensor(residual, [rows, d]);
  const scale = frozenScale ? new Tensor(frozenScale, [rows, 1]) : layerNormScale(x, layerNormEps);
  return layerNormAffine(layerNormNormalize(x, scale), model.weights.lnFinalWeight, model.weights.lnFinalBias);
}
