import { geluNew } from "../../tensor/activation.ts";
import { linear } from "../../backend/linear.ts";
import { Tensor } from "../../tensor/tensor.ts";
import type { Gpt2Model } from "../model.ts";
import { layerNorm } from "./layer-norm.ts";

/** `mlp.hook_pre` from ln2's output [.., d_model]: · W_in + b_in → [.., d_mlp] (into `into` when given). */
export function mlpPre(model: Gpt2Model, layer: number, ln2Out: Tensor, into?: Float32Array): Tensor {
  return linear(model.backend, ln2Out, model.prepared.blocks[layer]!.mlpIn, model.weights.blocks[layer]!.mlpInBias, into);
}

/** `mlp.hook_post` = gelu_new(`mlp.hook_pre`); `inPlace` overwrites pre. */
export function mlpActivation(model: Gpt2Model, pre: Tensor, inPlace = false): Tensor {
  return geluNew(pre, model.backend.kernels, inPlace);
}

/** `hook_mlp_out` from the neurons' activations [.., d_mlp]: · W_out + b_out → [.., d_model]. */
export function mlpOutFromNeurons(model: Gpt2Model, layer: number, post: Tensor, into?: Float32Array): Tensor {
  return linear(model.backend, post, model.prepared.blocks[layer]!.mlpOut, model.weights.blocks[layer]!.mlpOutBias, into);
}

/** The neurons' activations (`mlp.hook_post`) from the residual stream the MLP reads (`hook_resid_mid`): ln2, W_in, gelu. */
export function mlpNeurons(model: Gpt2Model, layer: number, residMid: Tensor): Tensor {
  return mlpActivation(model, mlpPre(model, layer, layerNorm(model, { kind: "ln2", layer }, residMid)), true);
}

/** The MLP's output (`hook_mlp_out`) from the residual stream it reads (`hook_resid_mid`) [rows, d_model]. */
export function mlp(model: Gpt2Model, layer: number, residMid: Tensor): Tensor {
  return mlpOutFromNeurons(model, layer, mlpNeurons(model, layer, residMid));
}

/** Rows n of W_out: what neuron n writes to the residual stream per unit of activation → [neurons, d_model]. */
export function neuronOutputDirections(model: Gpt2Model, layer: number, neurons: readonly number[]): Tensor {
  const d = model.config.dModel;
  const wOut = model.weights.blocks[layer]!.mlpOutWeight;
  const out = new Float32Array(neurons.length * d);
  neurons.forEach((n, i) => out.set(wOut.subarray(n * d, (n + 1) * d), i * d));
  return new Tensor(out, [neurons.length, d]);
}
