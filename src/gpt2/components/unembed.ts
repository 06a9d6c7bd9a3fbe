import { InputError } from "../../errors.ts";
import { linear } from "../../backend/linear.ts";
import { productLogSumExp } from "../../backend/product-log-sum-exp.ts";
import { shapeToString, Tensor } from "../../tensor/tensor.ts";
import type { Gpt2Model } from "../model.ts";
import { layerNorm, type LayerNormOptions, lnFinal } from "./layer-norm.ts";

/** Token ids a caller wants logits of must be ids of the model's vocabulary. */
export function checkVocabularyTokens(model: Gpt2Model, tokens: ArrayLike<number>, where: string): void {
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t]!;
    if (!Number.isInteger(token) || token < 0 || token >= model.config.dVocab) {
      throw new InputError(`${where}: token ${token} is outside the vocabulary [0, ${model.config.dVocab})`, "bad_token");
    }
  }
}

function checkResidual(model: Gpt2Model, x: Tensor, where: string): void {
  if (x.rank < 1 || x.shape[x.rank - 1] !== model.config.dModel) {
    throw new InputError(`${where}: input ${shapeToString(x.shape)} does not end in d_model ${model.config.dModel}`, "shape_mismatch");
  }
}

/**
 * ln_final's output [.., d_model] · W_U + b_U → logits [.., d_vocab] (HuggingFace's GPT-2 has no b_U;
 * processed weights may: see processWeights).
 */
export function unembedNormalized(model: Gpt2Model, lnFinalOut: Tensor, spare?: readonly Float32Array[]): Tensor {
  return linear(model.backend, lnFinalOut, model.prepared.unembed, model.weights.unembedBias ?? null, undefined, spare);
}

/** ln_final then the unembedding of final residual rows [.., d_model] → logits [.., d_vocab]. */
export function unembed(model: Gpt2Model, finalResid: Tensor, options: LayerNormOptions = {}): Tensor {
  checkResidual(model, finalResid, "unembed");
  return unembedNormalized(model, layerNorm(model, lnFinal, finalResid, options));
}

/** Like {@link unembed} for a few tokens only → [.., tokens.length]: d_model work per token and row. */
export function unembedTokens(model: Gpt2Model, finalResid: Tensor, tokens: readonly number[], options: LayerNormOptions = {}): Tensor {
  checkResidual(model, finalResid, "unembedTokens");
  checkVocabularyTokens(model, tokens, "unembedTokens");
  return tokenProducts(model, layerNorm(model, lnFinal, finalResid, options), tokens);
}

/**
 * ln_final and the unembedding reduced to what a softmax needs: each row's log-sum-exp over the
 * whole vocabulary and the logits of `tokens` ([rows, tokens.length]), without holding [rows, d_vocab].
 */
export function unembedLogSumExp(
  model: Gpt2Model, finalResid: Tensor, tokens: readonly number[], options: LayerNormOptions = {},
): { logSumExp: Float64Array; tokenLogits: Tensor } {
  checkResidual(model, finalResid, "unembedLogSumExp");
  checkVocabularyTokens(model, tokens, "unembedLogSumExp");
  const normalized = layerNorm(model, lnFinal, finalResid, options);
  const rows = normalized.size / model.config.dModel;
  const bias = model.weights.unembedBias;
  const adjust = bias === undefined ? undefined : (block: Float32Array) => addRowBias(block, bias);
  const { logSumExp, picked } = productLogSumExp(model.backend, normalized.data, rows, model.prepared.unembed, tokens, { adjust });
  return { logSumExp, tokenLogits: new Tensor(picked, [rows, tokens.length]) };
}

/** The columns W_U[:, tokens] as rows of a [tokens.length, d_model] tensor (a copy). */
export function unembedColumns(model: Gpt2Model, tokens: readonly number[]): Tensor {
  checkVocabularyTokens(model, tokens, "unembedColumns");
  const d = model.config.dModel;
  const out = new Float32Array(tokens.length * d);
  tokens.forEach((id, i) => out.set(model.weights.unembedTransposed.subarray(id * d, (id + 1) * d), i * d));
  return new Tensor(out, [tokens.length, d]);
}

/**
 * What residual-stream vectors [.., d_model] add to the logits of `tokens` (all of them when null)
 * under ln_final with a frozen scale of 1 and without its bias: (v − mean v) ⊙ γ · W_U[:, t]. It is
 * linear in v; divide by a run's `ln_final.hook_scale` to get that run's share of its logits
 * (direct logit attribution); with `centre: false` and `lnWeight: false` it is plain v · W_U.
 */
export function unembedLinear(
  model: Gpt2Model, vectors: Tensor, tokens: readonly number[] | null, options: { readonly lnWeight?: boolean; readonly centre?: boolean } = {},
): Tensor {
  checkResidual(model, vectors, "unembedLinear");
  const d = model.config.dModel;
  const gamma = model.weights.lnFinalWeight;
  const lnWeight = options.lnWeight ?? true;
  const centre = options.centre ?? true;
  const x = new Float32Array(vectors.size);
  for (let base = 0; base < x.length; base += d) {
    let mean = 0;
    if (centre) {
      for (let j = 0; j < d; j++) mean += vectors.data[base + j]!;
      mean /= d;
    }
    for (let j = 0; j < d; j++) x[base + j] = (vectors.data[base + j]! - mean) * (lnWeight ? gamma[j]! : 1);
  }
  const rows = new Tensor(x, vectors.shape);
  // Linear: no b_U (a constant, not any vector's share).
  if (tokens === null) return linear(model.backend, rows, model.prepared.unembed, null);
  checkVocabularyTokens(model, tokens, "unembedLinear");
  return tokenProducts(model, rows, tokens, false);
}

/** Adds bias [cols] to each row of block [rows, cols] in place. */
function addRowBias(block: Float32Array, bias: Float32Array): void {
  const cols = bias.length;
  for (let i = 0; i < block.length; i++) block[i] = block[i]! + bias[i % cols]!;
}

/** x [.., d_model] · W_U[:, tokens] (+ b_U[tokens] when `withBias`) → [.., tokens.length], accumulated in float64. */
function tokenProducts(model: Gpt2Model, x: Tensor, tokens: readonly number[], withBias = true): Tensor {
  const d = model.config.dModel;
  const rows = x.size / d;
  const out = new Float32Array(rows * tokens.length);
  const bias = withBias ? model.weights.unembedBias : undefined;
  tokens.forEach((token, t) => {
    const direction = model.weights.unembedTransposed.subarray(token * d, (token + 1) * d);
    for (let r = 0; r < rows; r++) {
      let acc = bias === undefined ? 0 : bias[token]!;
      for (let j = 0; j < d; j++) acc += x.data[r * d + j]! * direction[j]!;
      out[r * tokens.length + t] = acc;
    }
  });
  return new Tensor(out, [...x.shape.slice(0, -1), tokens.length]);
}
