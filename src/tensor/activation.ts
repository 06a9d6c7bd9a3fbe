import type { ForwardKernels } from "./forward-kernels.ts";
import { Tensor } from "./tensor.ts";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * GPT-2's `gelu_new`: the tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), computed as
 * x·e/(e + 1) with e = e^{2u} — the same function (0.5·(1 + tanh u) = e/(e + 1)), free of
 * cancellation, and Math.exp is markedly faster than Math.tanh in V8. e = ∞ gives x.
 * `inPlace` overwrites x's data (for a caller that no longer needs x).
 */
export function geluNew(x: Tensor, kernels?: ForwardKernels, inPlace = false): Tensor {
  const out = inPlace ? x.data : new Float32Array(x.size);
  if (kernels?.geluNew) {
    kernels.geluNew(x.data, out);
    return new Tensor(out, x.shape);
  }
  const src = x.data;
  for (let i = 0; i < out.length; i++) {
    const v = src[i]!;
    const e = Math.exp(2 * SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
    // v·(e/(e+1)), not (v·e)/(e+1): the product overflows for v ≈ 21.13…21.16 while e is still finite.
    out[i] = e === Infinity ? v : v * (e / (e + 1));
  }
  return new Tensor(out, x.shape);
}
