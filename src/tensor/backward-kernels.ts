/**
 * Optional fast kernels for a backward pass's non-GEMM work; each matches its plain-TypeScript
 * reference (src/backend/reference/) within 1e-5 relative. Attention layouts as the forward's
 * (ForwardKernels): q, dQ, dz [batch, pos, head, d_head]; k, v, dK, dV [batch, keys, head, d_head];
 * pattern and its gradients [batch, head, pos, keys], the queries at the last pos of the keys.
 */
export interface BackwardKernels {
  /** out[i] = dPost[i]·gelu_new′(pre[i]); `out` may be `pre` or `dPost`. */
  geluNewBackward?(pre: Float32Array, dPost: Float32Array, out: Float32Array): void;
  /**
   * mixValues backward: dPattern[b, h, i, j] = dz_i·v_j and dV_j = Σ_i pattern[b, h, i, j]·dz_i, over
   * the keys each query sees (every key when `maskedToo`; dPattern is then 0 after them).
   * Outputs are overwritten and must not overlap the inputs.
   */
  mixValuesBackward?(dz: Float32Array, pattern: Float32Array, v: Float32Array, batch: number, pos: number, keys: number,
    nHeads: number, dHead: number, maskedToo: boolean, dPattern: Float32Array, dV: Float32Array): void;
  /** Softmax backward along rows of `keys`: out = pattern ⊙ (dPattern − Σ pattern·dPattern); `out` may be `dPattern`. */
  softmaxBackwardRows?(pattern: Float32Array, dPattern: Float32Array, keys: number, out: Float32Array): void;
  /**
   * attentionScores backward: dQ_i = Σ_j dScores[i, j]·k_j/√d_head and dK_j = Σ_i dScores[i, j]·q_i/√d_head
   * (masked entries of dScores must be 0). Outputs are overwritten and must not overlap the inputs.
   */
  attentionScoresBackward?(dScores: Float32Array, q: Float32Array, k: Float32Array, batch: number, pos: number, keys: number,
    nHeads: number, dHead: number, dQ: Float32Array, dK: Float32Array): void;
  /** LayerNorm backward, ∂/∂normalized = dOut ⊙ weight along rows of `width`; `out` may be `dOut`. */
  layerNormAffineBackward?(dOut: Float32Array, width: number, weight: Float32Array, out: Float32Array): void;
  /** LayerNorm backward, ∂/∂scale of each row: −(dNormalized·normalized)/scale. */
  layerNormScaleBackward?(dNormalized: Float32Array, normalized: Float32Array, scale: Float32Array, width: number, out: Float32Array): void;
  /**
   * LayerNorm backward, ∂/∂x per row: (dNormalized − mean(dNormalized))/scale + (dScale/width)·normalized;
   * `out` may be `dNormalized`.
   */
  layerNormInputBackward?(dNormalized: Float32Array, dScale: Float32Array, normalized: Float32Array, scale: Float32Array, width: number,
    out: Float32Array): void;
}
