/**
 * GPT-2 parameters as HuggingFace stores them: Conv1D weights are [in, out] row-major, so
 * `x · W` is the layer. Per-head views (W_Q[head] etc.) are prepared in `components/head-weights.ts`.
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
  /** b_U [d_vocab]: HuggingFace's GPT-2 has none (absent); folding ln_final's bias into W_U makes one. */
  readonly unembedBias?: Float32Array;
  /** The TransformerLens processing these values have been through; absent: none (HuggingFace's values). */
  readonly processing?: WeightProcessingSteps;
}

/** TransformerLens's weight-processing steps (`from_pretrained`'s flags of the same names). */
export interface WeightProcessingSteps {
  readonly foldLn: boolean;
  readonly centerWritingWeights: boolean;
  readonly centerUnembed: boolean;
  readonly foldValueBiases: boolean;
}

const lazyCells = new WeakMap<object, Map<string, LazyWeight>>();

/** A lazily loaded array; pass the same one to several {@link defineLazyWeight} calls to share it. */
export interface LazyWeight {
  value: Float32Array | null;
  readonly load: () => Float32Array;
  /** A transient load for {@link peekWeight}: may reuse the buffer of the previous peek. */
  readonly peek: () => Float32Array;
}

export function lazyWeight(load: () => Float32Array, peek: () => Float32Array = load): LazyWeight {
  return { value: null, load, peek };
}

/**
 * Defines `target[key]` as an enumerable getter that loads the array on first access and keeps it
 * (a "lazily materialized" weight: e.g. re-read from the weight file once a backend has packed it).
 */
export function defineLazyWeight(target: object, key: string, lazy: LazyWeight): void {
  let cells = lazyCells.get(target);
  if (cells === undefined) lazyCells.set(target, (cells = new Map()));
  cells.set(key, lazy);
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: false,
    get: () => (lazy.value ??= lazy.load()),
  });
}

/**
 * `owner[key]`, but a lazily materialized weight that nobody has accessed yet is loaded without
 * being kept, possibly into a buffer that the next peek reuses: for a caller that copies it at
 * once (a backend packing it) and then drops it.
 */
export function peekWeight<T extends object, K extends keyof T & string>(owner: T, key: K): T[K] {
  const cell = lazyCells.get(owner)?.get(key);
  if (cell === undefined) return owner[key];
  return (cell.value ?? cell.peek()) as T[K];
}

/** False for a lazily materialized weight not loaded yet; true for any other property. */
export function isWeightResident(owner: object, key: string): boolean {
  const cell = lazyCells.get(owner)?.get(key);
  return cell === undefined || cell.value !== null;
}

/** True when `owner[a]` and `owner[b]` are the same array (tied), without loading lazy weights. */
export function sameWeight(owner: object, a: string, b: string): boolean {
  const cells = lazyCells.get(owner);
  const cellA = cells?.get(a);
  const cellB = cells?.get(b);
  if (cellA !== undefined || cellB !== undefined) return cellA === cellB;
  return (owner as Record<string, unknown>)[a] === (owner as Record<string, unknown>)[b];
}

/**
 * Defines `target[key]` as `owner[sourceKey]` passed through `transform` (which must return a new
 * array), lazily when the source is lazy: loads and peeks then read the source without keeping it.
 * With a null transform, the source itself (sharing its lazy cell, so tied weights stay one array).
 */
export function defineDerivedWeight(
  target: object, key: string, owner: object, sourceKey: string, transform: ((source: Float32Array) => Float32Array) | null,
): void {
  const cell = lazyCells.get(owner)?.get(sourceKey);
  if (cell === undefined) {
    const source = (owner as Record<string, Float32Array>)[sourceKey]!;
    Object.defineProperty(target, key, { enumerable: true, configurable: false, writable: false, value: transform ? transform(source) : source });
    return;
  }
  if (transform === null) return defineLazyWeight(target, key, cell);
  defineLazyWeight(target, key, lazyWeight(() => transform(cell.value ?? cell.load()), () => transform(cell.value ?? cell.peek())));
}
