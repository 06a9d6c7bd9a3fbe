/** Optional fast kernels for a forward pass's non-GEMM work; each matches the plain-TypeScript definition within 1e-5 relative. */
export interface ForwardKernels {
  readonly name: string;
  attentionScores?(q: Float32Array, k: Float32Array, batch: number, pos: number, keys: number, nHeads: number, dHead: number, out: Float32Array): void;
  mixValues?(pattern: Float32Array, v: Float32Array, batch: number, pos: number, keys: number, nHeads: number, dHead: number, out: Float32Array): void;
  geluNew?(x: Float32Array, out: Float32Array): void;
  /** Softmax of each row of `width` entries (−∞ → exactly 0); false when some row is entirely −∞. */
  softmaxRows?(x: Float32Array, width: number, out: Float32Array): boolean;
  /** x += y. */
  addInPlace?(x: Float32Array, y: Float32Array): void;
  /** LayerNorm's scale √(var + eps) of each row of `width` entries; also (x − mean)/scale into `normalized` when given. */
  layerNormScale?(x: Float32Array, width: number, eps: number, scale: Float32Array, normalized?: Float32Array): void;
  /** (x − mean)/scale[r] for each row r of `width` entries. */
  layerNormNormalize?(x: Float32Array, width: number, scale: Float32Array, out: Float32Array): void;
  /** x·weight + bias along rows of `width` entries; `out` may be `x`. */
  layerNormAffine?(x: Float32Array, width: number, weight: Float32Array, bias: Float32Array, out: Float32Array): void;
}
