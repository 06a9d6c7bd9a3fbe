import type { Tensor } from "../../src/tensor/tensor.ts";

/** Per row of [rows, vocab] logits: the softmax probability of each year token, computed directly. */
export function directYearProbs(logits: Tensor, yearTokens: readonly number[]): number[][] {
  const vocab = logits.shape[logits.rank - 1]!;
  const rows = logits.size / vocab;
  return Array.from({ length: rows }, (_, r) => {
    const row = logits.data.subarray(r * vocab, (r + 1) * vocab);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let total = 0;
    for (const v of row) total += Math.exp(v - max);
    return yearTokens.map((t) => Math.exp(row[t]! - max) / total);
  });
}

/** PD of one prompt's year probabilities: Σ_{y>yy} p − Σ_{y≤yy} p. */
export const directPd = (p: readonly number[], yy: number): number => p.reduce((s, v, y) => s + (y > yy ? v : -v), 0);

export const plainMean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

export const plainSd = (v: readonly number[]): number => {
  const m = plainMean(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
};
