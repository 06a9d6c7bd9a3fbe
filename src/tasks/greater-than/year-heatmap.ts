/** Mean probability of each end year "00".."99" (columns) over the prompts of each start year YY (rows, ascending). */
export function meanYearProbabilities(probs: ArrayLike<number>, yy: ArrayLike<number>): { yy: number[]; mean_probability: number[][] } {
  const values = [...new Set(Array.from(yy))].sort((a, b) => a - b);
  const rows = values.map((target) => {
    const sum = new Array<number>(100).fill(0);
    let count = 0;
    for (let b = 0; b < yy.length; b++) {
      if (yy[b] !== target) continue;
      count++;
      for (let y = 0; y < 100; y++) sum[y]! += probs[b * 100 + y]!;
    }
    return sum.map((s) => s / count);
  });
  return { yy: values, mean_probability: rows };
}
