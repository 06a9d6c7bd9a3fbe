import { InputError } from "../../errors.ts";
import { linear } from "../../backend/linear.ts";
import { shapeToString, Tensor } from "../../tensor/tensor.ts";
import type { Gpt2Model } from "../model.ts";
import { headWeights } from "./head-weights.ts";
import { layerNorm } from "./layer-norm.ts";

/** Which input of a head: its query, key or value. */
export type HeadInput = "q" | "k" | "v";

/**
 * One head's query, key or value (`attn.hook_q` / `hook_k` / `hook_v` of that head) from the residual
 * stream it reads (`hook_resid_pre` rows [rows, d_model]): the block's ln1, then W_Q[h] + b_Q[h]
 * (resp. K, V) → [rows, d_head].
 */
export function headInput(model: Gpt2Model, layer: number, head: number, input: HeadInput, residPre: Tensor): Tensor {
  const weights = headWeights(model, layer, head);
  const normalized = layerNorm(model, { kind: "ln1", layer }, residPre);
  const bias = input === "q" ? weights.qBias : input === "k" ? weights.kBias : weights.vBias;
  return linear(model.backend, normalized, weights[input], bias);
}

export const headQ = (model: Gpt2Model, layer: number, head: number, residPre: Tensor): Tensor => headInput(model, layer, head, "q", residPre);
export const headK = (model: Gpt2Model, layer: number, head: number, residPre: Tensor): Tensor => headInput(model, layer, head, "k", residPre);
export const headV = (model: Gpt2Model, layer: number, head: number, residPre: Tensor): Tensor => headInput(model, layer, head, "v", residPre);

/** One head's output without the output bias (its slice of `attn.hook_result`): z [rows, d_head] · W_O[h] → [rows, d_model]. */
export function headOut(model: Gpt2Model, layer: number, head: number, z: Tensor): Tensor {
  return linear(model.backend, z, model.prepared.blocks[layer]!.outPerHead[head]!);
}

/**
 * Attention of one query row per batch row over the keys and values it may see (a causal head
 * at query position p sees keys 0…p): q [rows, d_head], keys and values [rows, keys, d_head] →
 * pattern [rows, keys] = softmax(q·kⱼ/√d_head) and z [rows, d_head] = Σⱼ pattern·vⱼ.
 */
export function attendRow(q: Tensor, keys: Tensor, values: Tensor): { pattern: Tensor; z: Tensor } {
  const [rows, dHead] = q.shape as [number, number];
  const keyCount = keys.shape[1]!;
  for (const [what, t] of [["keys", keys], ["values", values]] as const) {
    if (q.rank !== 2 || t.rank !== 3 || t.shape[0] !== rows || t.shape[1] !== keyCount || t.shape[2] !== dHead) {
      throw new InputError(
        `attendRow: ${what} ${shapeToString(t.shape)} do not fit a query ${shapeToString(q.shape)} (expected [rows, keys, d_head])`,
        "shape_mismatch",
      );
    }
  }
  const scale = 1 / Math.sqrt(dHead);
  const pattern = new Float32Array(rows * keyCount);
  const z = new Float32Array(rows * dHead);
  const weights = new Float64Array(keyCount);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let j = 0; j < keyCount; j++) {
      let acc = 0;
      const k = (r * keyCount + j) * dHead;
      for (let e = 0; e < dHead; e++) acc += q.data[r * dHead + e]! * keys.data[k + e]!;
      weights[j] = acc * scale;
      if (weights[j]! > max) max = weights[j]!;
    }
    let sum = 0;
    for (let j = 0; j < keyCount; j++) sum += weights[j] = Math.exp(weights[j]! - max);
    for (let j = 0; j < keyCount; j++) {
      const weight = weights[j]! / sum;
      pattern[r * keyCount + j] = weight;
      const v = (r * keyCount + j) * dHead;
      for (let e = 0; e < dHead; e++) z[r * dHead + e] += weight * values.data[v + e]!;
    }
  }
  return { pattern: new Tensor(pattern, [rows, keyCount]), z: new Tensor(z, [rows, dHead]) };
}
