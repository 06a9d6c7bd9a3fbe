/** Optional fast kernels for a forward pass's non-GEMM work; each matches the plain-TypeScript definition within 1e-5 relative. */
export interface ForwardKernels {
  readonly name: string;
  attentionScores?(q: Float32Array, k: Float32Array, batch: number, pos: number, keys: number, nHeads: number, dHead: number, out: Float32Array): void;
  mixValues?(pattern: Float32Array, v: Float32Array, batch: number, pos: number, keys: number, nHeads: number, dHead: number, out: Float32Array): void;
  geluNew?(x: Float32Array, out: Float32Array): void;
  /** Softmax of each row of `width` entries (−∞ → exactly 0); false when some row is entirely −∞. */
  softmaxRows?(x: Float32Array, width: number, out: Float32Array): boolean;
}
