import { Tensor } from "../../tensor/tensor.ts";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * ∂/∂`mlp.hook_pre` from ∂/∂`mlp.hook_post` through gelu_new, y = x·s with s = ½(1 + tanh u),
 * u = √(2/π)(x + 0.044715x³): dy/dx = s + x·2s(1 − s)·√(2/π)(1 + 3·0.044715x²). `post` is gelu_new(pre)
 * as the forward's kernel computes it, so s = post/pre needs no exp here (s = ½ at x = 0, where
 * dy/dx = ½ too).
 */
export function geluNewBackward(dPost: Tensor, pre: Tensor, post: Tensor): Tensor {
  const out = new Float32Array(pre.size);
  const x = pre.data, y = post.data, dy = dPost.data;
  for (let i = 0; i < out.length; i++) {
    const v = x[i]!;
    const s = v === 0 ? 0.5 : y[i]! / v;
    out[i] = dy[i]! * (s + v * 2 * s * (1 - s) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v));
  }
  return new Tensor(out, pre.shape);
}
