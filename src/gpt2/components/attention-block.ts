import { linear } from "../../backend/linear.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import type { Gpt2Model } from "../model.ts";
import { headResults, sumHeads } from "./attention.ts";

/**
 * Every head's q | k | v at once from ln1's output [.., d_model] → [.., 3·d_model] (c_attn; split
 * with splitQkv). The same numbers as headInput per head, in one product.
 */
export function attnQkv(model: Gpt2Model, layer: number, ln1Out: Tensor, into?: Float32Array): Tensor {
  return linear(model.backend, ln1Out, model.prepared.blocks[layer]!.qkv, model.weights.blocks[layer]!.qkvBias, into);
}

/** `hook_attn_out` from every head's z [.., d_model = head·d_head]: Σ_h z_h·W_O[h] + b_O. */
export function attnOut(model: Gpt2Model, layer: number, zFlat: Tensor, into?: Float32Array): Tensor {
  return linear(model.backend, zFlat, model.prepared.blocks[layer]!.out, model.weights.blocks[layer]!.outBias, into);
}

/** `attn.hook_result`: each head's z_h·W_O[h] without the bias, z [b, p, head, d_head] → [b, p, head, d_model]. */
export function attnResult(model: Gpt2Model, layer: number, z: Tensor): Tensor {
  return headResults(model.backend, z, model.prepared.blocks[layer]!.outPerHead);
}

/** `hook_attn_out` from `attn.hook_result`: Σ_h result_h + b_O. */
export function attnOutFromResult(model: Gpt2Model, layer: number, result: Tensor): Tensor {
  return sumHeads(result, model.weights.blocks[layer]!.outBias);
}
