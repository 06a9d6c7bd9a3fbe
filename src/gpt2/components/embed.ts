import { add } from "../../tensor/elementwise.ts";
import { gatherRows } from "../../tensor/indexing.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import type { Gpt2Model } from "../model.ts";

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
