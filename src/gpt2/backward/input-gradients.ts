import { InputError } from "../../errors.ts";
import { shapeToString, Tensor } from "../../tensor/tensor.ts";
import type { HeadInput } from "../components/attention-head.ts";
import type { LayerNormSite } from "../components/layer-norm.ts";
import type { Gpt2Model } from "../model.ts";
import { layerNormBackwardFromOutput } from "./layer-norm-backward.ts";
import { linearInputBackward, transposedBlockWeight, transposedHeadInput } from "./transposed-weights.ts";

/** A LayerNorm's forward values at its hook points (`hook_normalized`, `hook_scale`), as a run's cache holds them. */
export interface LayerNormActivations {
  readonly normalized: Tensor;
  readonly scale: Tensor;
}

/**
 * ∂metric/∂x through the LayerNorm `site` alone, from ∂metric/∂(its output) [.., d_model], with
 * the forward's scale and normalized values: the gradient the residual stream receives through that
 * LayerNorm (linear in dOut for a given forward).
 */
export function layerNormGradient(model: Gpt2Model, site: LayerNormSite, dOut: Tensor, forward: LayerNormActivations): Tensor {
  return layerNormBackwardFromOutput(model, site, dOut, forward.normalized, forward.scale);
}

/**
 * ∂metric/∂(the residual stream head `head` of block `layer` reads on one input channel, q, k or
 * v) [batch, pos, d_model], from ∂metric/∂`attn.hook_q` (resp. k, v) [batch, pos, head, d_head] and
 * the forward's ln1 values: ln1's backward of dq_h·W_Q[h]ᵀ. Summed over heads and channels it is
 * ∂/∂resid_pre − ∂/∂resid_mid of that block (edge attribution's receiver gradients).
 */
export function headInputGradient(
  model: Gpt2Model, layer: number, head: number, input: HeadInput, dHookInput: Tensor, ln1: LayerNormActivations,
): Tensor {
  const [batch, pos, nHeads, dHead] = dHookInput.shape as [number, number, number, number];
  if (dHookInput.rank !== 4 || nHeads !== model.config.nHeads || dHead !== model.config.dHead || !(head >= 0 && head < nHeads)) {
    throw new InputError(`headInputGradient: gradient ${shapeToString(dHookInput.shape)} is not [batch, pos, ${model.config.nHeads}, ${model.config.dHead}] or head ${head} is out of range`, "shape_mismatch");
  }
  const rows = batch * pos;
  const headGrad = new Float32Array(rows * dHead);
  for (let r = 0; r < rows; r++) headGrad.set(dHookInput.data.subarray((r * nHeads + head) * dHead, (r * nHeads + head + 1) * dHead), r * dHead);
  const dLn1Out = linearInputBackward(model, new Tensor(headGrad, [batch, pos, dHead]), transposedHeadInput(model, layer, head, input));
  return layerNormGradient(model, { kind: "ln1", layer }, dLn1Out, ln1);
}

/**
 * ∂metric/∂(the residual stream the MLP of block `layer` reads) [batch, pos, d_model] from
 * ∂metric/∂`mlp.hook_pre` and the forward's ln2 values: ln2's backward of dPre·W_inᵀ
 * (= ∂/∂resid_mid − ∂/∂resid_post of that block).
 */
export function mlpInputGradient(model: Gpt2Model, layer: number, dPre: Tensor, ln2: LayerNormActivations): Tensor {
  const dLn2Out = linearInputBackward(model, dPre, transposedBlockWeight(model, layer, "mlpIn"));
  return layerNormGradient(model, { kind: "ln2", layer }, dLn2Out, ln2);
}
