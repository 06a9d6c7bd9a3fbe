import { Tensor } from "./tensor.ts";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GPT-2's `gelu_new`: the tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluNew(x: Tensor): Tensor {
  const out = new Float32Array(x.size);
  const src = x.data;
  for (let i = 0; i < out.length; i++) {
    const v = src[i]!;
    out[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
  }
  return new Tensor(out, x.shape);
}
