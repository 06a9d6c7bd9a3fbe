/** Colour ranges chosen over a figure's data (or several figures' data), so the scale shows the signal. */
import { formatCompactNumber, isDrawableNumber } from "./number-format.ts";

type Grid = readonly (readonly (number | string | null)[])[];

/** The fraction of cells under a probability heatmap's clipped top. */
export const CLIP_PERCENTILE = 0.99;

/**
 * [0, the 99th percentile of the cells]: one large cell (say p = 0.98 where 99 % of cells are below
 * 0.07) would otherwise wash the rest out. Cells above it are drawn in the top colour; the colour bar
 * marks that (heatmap does when values exceed its range).
 */
export function clippedProbabilityRange(...grids: Grid[]): [number, number] {
  const values = grids.flatMap((grid) => grid.flat().filter(isDrawableNumber)).sort((a, b) => a - b);
  const top = values[Math.min(values.length - 1, Math.floor(CLIP_PERCENTILE * values.length))] ?? 1;
  return [0, top > 0 ? top : 1];
}

/** ±(largest |cell| over all the grids): one symmetric scale for sweeps that are compared with each other. */
export function sharedSymmetricRange(grids: readonly Grid[]): [number, number] {
  let magnitude = 0;
  for (const grid of grids) {
    for (const row of grid) for (const value of row) if (isDrawableNumber(value)) magnitude = Math.max(magnitude, Math.abs(value));
  }
  return magnitude > 0 ? [-magnitude, magnitude] : [-1, 1];
}

/** True when the grid has at least one drawable cell. */
export function hasDrawableCell(grid: Grid): boolean {
  return grid.some((row) => row.some(isDrawableNumber));
}

/** The caption's sentence for a clipped probability scale (see clippedProbabilityRange). */
export function clippedRangeSentence(range: readonly [number, number], ...grids: Grid[]): string {
  const top = Math.max(...grids.flatMap((grid) => grid.flat().filter(isDrawableNumber)));
  return `Colour scale clipped at the 99th percentile of the cells, ${formatCompactNumber(range[1])} (the largest is ${formatCompactNumber(top)}): ` +
    "cells above it take the top colour, so the many small probabilities stay visible.";
}
