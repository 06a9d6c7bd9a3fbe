/**
 * GPT-2 parameters as HuggingFace stores them: Conv1D weights are [in, out] row-major, so
 * `x · W` is the layer. TransformerLens-shaped views (W_Q[head] etc.) are derived in `weight-views.ts`.
 */
export interface BlockWeights {
  readonly ln1Weight: Float32Array;
  readonly ln1Bias: Float32Array;
  /** c_attn: [d_model, 3·d_model], columns q | k | v, each split into heads of d_head. */
  readonly qkvWeight: Float32Array;
  readonly qkvBias: Float32Array;
  /** c_proj: [d_model (= head·d_head), d_model]. */
  readonly outWeight: Float32Array;
  readonly outBias: Float32Array;
  readonly ln2Weight: Float32Array;
  readonly ln2Bias: Float32Array;
  /** c_fc: [d_model, d_mlp]. */
  readonly mlpInWeight: Float32Array;
  readonly mlpInBias: Float32Array;
  /** mlp c_proj: [d_mlp, d_model]. */
  readonly mlpOutWeight: Float32Array;
  readonly mlpOutBias: Float32Array;
}

export interface Gpt2Weights {
  /** wte: [d_vocab, d_model]. */
  readonly tokenEmbedding: Float32Array;
  /** wpe: [n_ctx, d_model]. */
  readonly positionEmbedding: Float32Array;
  readonly blocks: readonly BlockWeights[];
  readonly lnFinalWeight: Float32Array;
  readonly lnFinalBias: Float32Array;
  /** lm_head: [d_vocab, d_model] (W_Uᵀ); the token embedding itself when tied. */
  readonly unembedTransposed: Float32Array;
}
