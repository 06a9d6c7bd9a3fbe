import type { Gpt2Model } from "../gpt2/model.ts";
import { geluNew } from "../tensor/activation.ts";
import { layerNorm } from "../tensor/layer-norm.ts";
import { linear } from "../tensor/matmul.ts";
import { Tensor } from "../tensor/tensor.ts";
import { headProjections } from "./head-weights.ts";
import type { PathActivations } from "./path-activations.ts";

/** Rows of a [batch, pos, width] array at one position → [batch, width]. */
export function rowsAt(data: Float32Array, batch: number, pos: number, width: number, at: number): Float32Array {
  const out = new Float32Array(batch * width);
  for (let b = 0; b < batch; b++) out.set(data.subarray((b * pos + at) * width, (b * pos + at + 1) * width), b * width);
  return out;
}

export function addRows(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < out.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

export function subRows(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < out.length; i++) out[i] = a[i]! - b[i]!;
  return out;
}

/** One head's output at `pos` (z · W_O[head], no bias) in a cached run, [batch, d_model]. */
export function cachedHeadOutput(model: Gpt2Model, acts: PathActivations, layer: number, head: number, pos: number): Float32Array {
  const { nHeads, dHead } = model.config;
  const z = rowsAt(acts.z[layer]!, acts.batch, acts.pos * nHeads, dHead, pos * nHeads + head);
  return linear(model.backend, new Tensor(z, [acts.batch, dHead]), headProjections(model, layer, head).out).data;
}

export interface HeadInputDeltas {
  /** Change of the residual stream the query at `pos` reads, [batch, d_model]. */
  readonly q?: Float32Array;
  /** Changes of the residual stream the keys / values read, by key position. */
  readonly k?: ReadonlyMap<number, Float32Array>;
  readonly v?: ReadonlyMap<number, Float32Array>;
}

/**
 * Recomputes one head's output at query position `pos` with its inputs changed per channel; its own
 * LayerNorm (ln1) is recomputed on every changed input. Unchanged keys and values come from the cache.
 */
export function recomputeHeadOutput(
  model: Gpt2Model, base: PathActivations, layer: number, head: number, pos: number, deltas: HeadInputDeltas,
): Float32Array {
  const { dModel: d, nHeads, dHead } = model.config;
  const { batch } = base;
  const block = model.weights.blocks[layer]!;
  const weights = headProjections(model, layer, head);
  const project = (at: number, delta: Float32Array, part: "q" | "k" | "v"): Float32Array => {
    const input = addRows(rowsAt(base.residPre[layer]!, batch, base.pos, d, at), delta);
    const normalized = layerNorm(new Tensor(input, [batch, d]), block.ln1Weight, block.ln1Bias, model.config.layerNormEps, model.backend.kernels);
    const bias = part === "q" ? weights.qBias : part === "k" ? weights.kBias : weights.vBias;
    return linear(model.backend, normalized, weights[part], bias).data;
  };
  const cachedPart = (source: Float32Array, at: number) =>
    rowsAt(source, batch, base.pos * nHeads, dHead, at * nHeads + head);
  const query = deltas.q ? project(pos, deltas.q, "q") : qFromCache(model, base, layer, head, pos);
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  for (let j = 0; j <= pos; j++) {
    const kDelta = deltas.k?.get(j);
    const vDelta = deltas.v?.get(j);
    keys.push(kDelta ? project(j, kDelta, "k") : cachedPart(base.k[layer]!, j));
    values.push(vDelta ? project(j, vDelta, "v") : cachedPart(base.v[layer]!, j));
  }
  const z = attendOneQuery(query, keys, values, batch, dHead);
  return linear(model.backend, new Tensor(z, [batch, dHead]), weights.out).data;
}

function qFromCache(model: Gpt2Model, base: PathActivations, layer: number, head: number, pos: number): Float32Array {
  const { dModel: d } = model.config;
  const block = model.weights.blocks[layer]!;
  const weights = headProjections(model, layer, head);
  const input = rowsAt(base.residPre[layer]!, base.batch, base.pos, d, pos);
  const normalized = layerNorm(new Tensor(input, [base.batch, d]), block.ln1Weight, block.ln1Bias, model.config.layerNormEps, model.backend.kernels);
  return linear(model.backend, normalized, weights.q, weights.qBias).data;
}

/** softmax(q·kⱼ/√d_head) over keys 0…pos, per batch row → [batch, keys]. */
function attentionWeights(query: Float32Array, keys: readonly Float32Array[], batch: number, dHead: number): Float64Array {
  const weights = new Float64Array(batch * keys.length);
  const scale = 1 / Math.sqrt(dHead);
  for (let b = 0; b < batch; b++) {
    const qBase = b * dHead;
    const row = b * keys.length;
    let max = -Infinity;
    keys.forEach((key, j) => {
      let acc = 0;
      for (let e = 0; e < dHead; e++) acc += query[qBase + e]! * key[qBase + e]!;
      weights[row + j] = acc * scale;
      if (weights[row + j]! > max) max = weights[row + j]!;
    });
    let sum = 0;
    for (let j = 0; j < keys.length; j++) {
      weights[row + j] = Math.exp(weights[row + j]! - max);
      sum += weights[row + j]!;
    }
    for (let j = 0; j < keys.length; j++) weights[row + j]! /= sum;
  }
  return weights;
}

/** Σⱼ softmax(q·kⱼ/√d_head)·vⱼ per batch row → z [batch, d_head]. */
function attendOneQuery(
  query: Float32Array, keys: readonly Float32Array[], values: readonly Float32Array[], batch: number, dHead: number,
): Float32Array {
  const weights = attentionWeights(query, keys, batch, dHead);
  const z = new Float32Array(batch * dHead);
  for (let b = 0; b < batch; b++) {
    values.forEach((value, j) => {
      const weight = weights[b * keys.length + j]!;
      for (let e = 0; e < dHead; e++) z[b * dHead + e] += weight * value[b * dHead + e]!;
    });
  }
  return z;
}

/** The attention pattern of one head from query position `pos` in a cached run, [batch, pos + 1]. */
export function cachedAttentionFrom(model: Gpt2Model, acts: PathActivations, layer: number, head: number, pos: number): Float64Array {
  const { nHeads, dHead } = model.config;
  const query = qFromCache(model, acts, layer, head, pos);
  const keys = Array.from({ length: pos + 1 }, (_, j) => rowsAt(acts.k[layer]!, acts.batch, acts.pos * nHeads, dHead, j * nHeads + head));
  return attentionWeights(query, keys, acts.batch, dHead);
}

/** MLP `layer`'s neuron activations (hook_post) at `pos` in a cached run, from its cached input, [batch, d_mlp]. */
export function cachedMlpNeurons(model: Gpt2Model, acts: PathActivations, layer: number, pos: number): Float32Array {
  return mlpNeurons(model, rowsAt(acts.residMid[layer]!, acts.batch, acts.pos, model.config.dModel, pos), layer).data;
}

function mlpNeurons(model: Gpt2Model, input: Float32Array, layer: number): Tensor {
  const block = model.weights.blocks[layer]!;
  const rows = input.length / model.config.dModel;
  const normalized = layerNorm(new Tensor(input, [rows, model.config.dModel]), block.ln2Weight, block.ln2Bias, model.config.layerNormEps, model.backend.kernels);
  return geluNew(linear(model.backend, normalized, model.prepared.blocks[layer]!.mlpIn, block.mlpInBias), model.backend.kernels);
}

/** Recomputes MLP `layer` at `pos` from its cached input plus `delta` (ln2 recomputed), [batch, d_model]. */
export function recomputeMlpOutput(model: Gpt2Model, base: PathActivations, layer: number, pos: number, delta: Float32Array): Float32Array {
  const input = addRows(rowsAt(base.residMid[layer]!, base.batch, base.pos, model.config.dModel, pos), delta);
  const block = model.weights.blocks[layer]!;
  return linear(model.backend, mlpNeurons(model, input, layer), model.prepared.blocks[layer]!.mlpOut, block.mlpOutBias).data;
}
