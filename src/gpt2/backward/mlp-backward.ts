import { Tensor } from "../../tensor/tensor.ts";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * ∂/∂`mlp.hook_pre` from ∂/∂`mlp.hook_post` through gelu_new, y = x·s with s = ½(1 + tanh u),
 * u = √(2/π)(x + 0.044715x³): dy/dx = s + x·2s(1 − s)·√(2/π)(1 + 3·0.044715x²). s = e/(e + 1) with
 * e = e^{2u}, as the forward computes it (no cancellation; e = ∞ gives s = 1, e = 0 gives s = 0).
 */
export function geluNewBackward(dPost: Tensor, pre: Tensor): Tensor {
  const out = new Float32Array(pre.size);
  const x = pre.data, dy = dPost.data;
  for (let i = 0; i < out.length; i++) {
    const v = x[i]!;
    const e = Math.exp(2 * SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
    const s = e === Infinity ? 1 : e / (e + 1);
    const slope = s + v * 2 * s * (1 - s) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
    out[i] = dy[i]! * slope;
  }
  return new Tensor(out, pre.shape);
}
