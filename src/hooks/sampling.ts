import { InputError } from "../errors.ts";

/** A seeded uniform generator on [0, 1) (mulberry32): the same seed gives the same draws. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SamplingOptions {
  /** 0: the likeliest token (greedy); otherwise logits are divided by it before the softmax. */
  readonly temperature: number;
  /** Sample among only the k likeliest tokens. */
  readonly topK?: number | undefined;
}

/** The first index of the largest value (torch.argmax's choice among ties). */
export function argmaxIndex(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Indices of the k largest values, largest first (ties: the lower index first). */
function topIndices(values: ArrayLike<number>, k: number): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i);
  order.sort((a, b) => values[b]! - values[a]! || a - b);
  return order.slice(0, k);
}

/** One token drawn from a row of logits, as TransformerLens's sample_logits (temperature, top-k). */
export function sampleToken(logits: ArrayLike<number>, options: SamplingOptions, random: () => number): number {
  const { temperature, topK } = options;
  if (temperature === 0) return argmaxIndex(logits);
  const candidates = topK !== undefined && topK < logits.length ? topIndices(logits, topK) : Array.from({ length: logits.length }, (_, i) => i);
  let max = -Infinity;
  for (const i of candidates) max = Math.max(max, logits[i]! / temperature);
  const weights = candidates.map((i) => Math.exp(logits[i]! / temperature - max));
  const total = weights.reduce((a, b) => a + b, 0);
  let u = random() * total;
  for (let c = 0; c < candidates.length; c++) {
    u -= weights[c]!;
    if (u < 0) return candidates[c]!;
  }
  return candidates[candidates.length - 1]!;
}

export function checkSamplingOptions(temperature: unknown, topK: unknown): void {
  if (typeof temperature !== "number" || !Number.isFinite(temperature) || temperature < 0) {
    throw new InputError(`temperature must be a finite number ≥ 0 (0: greedy), got ${String(temperature)}`, "bad_option");
  }
  if (topK !== undefined && (typeof topK !== "number" || !Number.isInteger(topK) || topK < 1)) {
    throw new InputError(`topK must be an integer ≥ 1, got ${String(topK)}`, "bad_option");
  }
}
