/**
 * Optional fast kernels for a backward pass's non-GEMM work; each matches its plain-TypeScript
 * reference (src/backend/reference/) within 1e-5 relative.
 */
export interface BackwardKernels {
  /** out[i] = dPost[i]·gelu_new′(pre[i]); `out` may be `pre` or `dPost`. */
  geluNewBackward?(pre: Float32Array, dPost: Float32Array, out: Float32Array): void;
}
