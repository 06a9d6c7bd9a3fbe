const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * The backward of gelu_new in float64, y = x·s with s = ½(1 + tanh u) = e/(e + 1), e = e^{2u},
 * u = √(2/π)(x + 0.044715x³): out[i] = dPost[i]·(s + x·2s(1 − s)·√(2/π)(1 + 3·0.044715x²)).
 * `out` may be `pre` or `dPost`.
 */
export function referenceGeluNewBackward(pre: Float32Array, dPost: Float32Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) {
    const x = pre[i]!;
    const e = Math.exp(2 * SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
    // e = ∞ (large x): s = 1 exactly, and the x·(1 − s) term is 0.
    const s = e === Infinity ? 1 : e / (e + 1);
    const slope = s === 1 ? 1 : s + x * 2 * s * (1 - s) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
    out[i] = dPost[i]! * slope;
  }
}
