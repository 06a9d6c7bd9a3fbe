import type { Tensor } from "../../src/tensor/tensor.ts";

/** Mean over rows of log softmax(logits)[target], computed directly from [rows, vocab] logits. */
export function meanLogProb(logits: Tensor, target: number): number {
  const [rows, vocab] = logits.shape as [number, number];
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const row = logits.data.subarray(r * vocab, (r + 1) * vocab);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    total += row[target]! - max - Math.log(sum);
  }
  return total / rows;
}
