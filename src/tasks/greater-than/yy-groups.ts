/** The distinct YY values of a batch, ascending. */
export function yyGroups(yy: ArrayLike<number>): number[] {
  return [...new Set(Array.from(yy))].sort((a, b) => a - b);
}

/**
 * Mean of each prompt's row ([batch, width] values, row b at b·stride + offset) over the prompts of
 * each YY → [group][width]; with `centre`, each mean row minus its own mean (a constant added to
 * every year's logit leaves the probabilities unchanged, so only the shape across years is kept).
 */
export function meanRowsByYy(
  values: ArrayLike<number>, width: number, yy: ArrayLike<number>, options: { readonly centre?: boolean; readonly stride?: number; readonly offset?: number } = {},
): { yy: number[]; rows: number[][] } {
  const groups = yyGroups(yy);
  const index = new Map(groups.map((g, i) => [g, i]));
  const sums = groups.map(() => new Float64Array(width));
  const counts = new Array<number>(groups.length).fill(0);
  const stride = options.stride ?? width;
  const offset = options.offset ?? 0;
  for (let b = 0; b < yy.length; b++) {
    const g = index.get(yy[b]!)!;
    counts[g]!++;
    for (let j = 0; j < width; j++) sums[g]![j]! += values[b * stride + offset + j]!;
  }
  const rows = sums.map((sum, g) => {
    const row = Array.from(sum, (v) => v / counts[g]!);
    if (!options.centre) return row;
    const rowMean = row.reduce((a, v) => a + v, 0) / width;
    return row.map((v) => v - rowMean);
  });
  return { yy: groups, rows };
}
