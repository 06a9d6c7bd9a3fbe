import type { PathPatchingGrid } from "../../patching/path-patching.ts";

export interface SelectedHead {
  readonly layer: number;
  readonly head: number;
}

/**
 * Heads whose corrupted path lowers the metric by at least `fraction` of the strongest head effect
 * in the same grid, and by at least `minEffect` in absolute terms.
 */
export function importantHeads(grid: Pick<PathPatchingGrid, "grid">, nHeads: number, fraction: number, minEffect: number): SelectedHead[] {
  let strongest = 0;
  grid.grid.forEach((row) => row.slice(0, nHeads).forEach((v) => (strongest = Math.min(strongest, v ?? 0))));
  const threshold = Math.min(-minEffect, strongest * fraction);
  const heads: SelectedHead[] = [];
  grid.grid.forEach((row, layer) =>
    row.slice(0, nHeads).forEach((v, head) => {
      if (v !== null && v <= threshold) heads.push({ layer, head });
    }),
  );
  return heads;
}

/** Layers among `candidates` whose MLP path effect in `grid` is at most −minEffect. */
export function importantMlps(grid: Pick<PathPatchingGrid, "grid">, nHeads: number, candidates: readonly number[], minEffect: number): number[] {
  return candidates.filter((layer) => (grid.grid[layer]![nHeads] ?? 0) <= -minEffect);
}

export function mergeHeads(lists: readonly SelectedHead[][]): SelectedHead[] {
  const seen = new Map<string, SelectedHead>();
  for (const list of lists) for (const head of list) seen.set(`${head.layer}.${head.head}`, head);
  return [...seen.values()].sort((a, b) => a.layer - b.layer || a.head - b.head);
}
