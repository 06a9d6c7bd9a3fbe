import { add } from "../../tensor/elementwise.ts";
import { gatherRows } from "../../tensor/indexing.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import type { Gpt2Model } from "../model.ts";
import type { KeyMask } from "./attention-mask.ts";

/** `hook_embed`: W_E[ids] → [...shape, d_model]. */
export function tokenEmbed(model: Gpt2Model, ids: ArrayLike<number>, shape: readonly number[]): Tensor {
  return model.embedTokens(ids, shape);
}

/** `hook_pos_embed` of [batch, pos] tokens whose first position is `firstPos`: W_pos[firstPos + p] → [batch, pos, d_model]. */
export function positionEmbed(model: Gpt2Model, batch: number, pos: number, firstPos = 0): Tensor {
  const positions = Int32Array.from({ length: batch * pos }, (_, i) => firstPos + (i % pos));
  return gatherRows(model.weights.positionEmbedding, model.config.dModel, positions, [batch, pos]);
}

/** The embedding = `blocks.0.hook_resid_pre`: token plus position embedding of [batch, pos] ids. */
export function embed(model: Gpt2Model, ids: ArrayLike<number>, batch: number, pos: number, firstPos = 0): Tensor {
  return add(tokenEmbed(model, ids, [batch, pos]), positionEmbed(model, batch, pos, firstPos));
}

/**
 * `hook_pos_embed` of a padded batch, as TransformerLens computes it: a real token's position is the
 * number of real tokens before it (so left padding does not shift positions), and a pad's embedding
 * is 0. `mask` is [batch, pastPos + pos] (1 real, 0 pad); the pass's tokens are its last pos columns.
 */
export function maskedPositionEmbed(model: Gpt2Model, mask: KeyMask, pos: number): Tensor {
  const { batch, keys } = mask;
  const d = model.config.dModel;
  const pastPos = keys - pos;
  const positions = new Int32Array(batch * pos);
  for (let b = 0; b < batch; b++) {
    let seen = 0;
    for (let j = 0; j < keys; j++) {
      const real = mask.data[b * keys + j] !== 0;
      if (real) seen++;
      if (j >= pastPos) positions[b * pos + j - pastPos] = Math.max(seen - 1, 0);
    }
  }
  const out = gatherRows(model.weights.positionEmbedding, d, positions, [batch, pos]);
  for (let b = 0; b < batch; b++) {
    for (let p = 0; p < pos; p++) {
      if (mask.data[b * keys + pastPos + p] === 0) out.data.fill(0, (b * pos + p) * d, (b * pos + p + 1) * d);
    }
  }
  return out;
}
