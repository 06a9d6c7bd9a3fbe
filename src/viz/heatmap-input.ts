/** The heatmap's input type and its validation. */

import type { ColorScaleKind } from "./color-scales.ts";
import {
  figureInputError,
  requireMatchingLength,
  requireNonEmptyArray,
  requireString,
  requireStringEntries,
  describe,
} from "./input-checks.ts";

export interface HeatmapInput {
  readonly title: string;
  /** rows × cols; null (or NaN/±Infinity) marks a missing cell, drawn hatched grey with "n/a" in its tooltip. */
  readonly values: readonly (readonly (number | null)[])[];
  readonly rowLabels: readonly string[];
  readonly colLabels: readonly string[];
  readonly xLabel: string;
  readonly yLabel: string;
  /** "sequential" (viridis) or "diverging" (blue–white–red, white at 0). */
  readonly colorScale: ColorScaleKind;
  /** Colour range [min, max]; default: data extent (sequential) or ±max|value| (diverging). */
  readonly range?: readonly [number, number];
  /** What the colour encodes, shown above the colour bar, e.g. "probability". */
  readonly valueLabel?: string;
  /** The colour bar's word for missing cells (default "n/a"), e.g. "not upstream". */
  readonly missingLabel?: string;
  readonly caption?: string;
  /**
   * Cells deliberately left out, e.g. { label: "not computed", cells }: their values must be null; they
   * are drawn pale with a dot (not hatched like a missing cell), with the label in their tooltip and beside a legend swatch.
   */
  readonly skipped?: { readonly label: string; readonly cells: readonly (readonly boolean[])[] };
}

const FIGURE = "heatmap";

/** Throw a "bad_figure_input" error naming the first invalid field. */
export function validateHeatmapInput(input: HeatmapInput): void {
  requireString(FIGURE, "title", input.title);
  requireNonEmptyArray(FIGURE, "values", input.values);
  requireNonEmptyArray(FIGURE, "colLabels", input.colLabels);
  requireMatchingLength(FIGURE, "rowLabels", input.rowLabels, "values (rows)", input.values.length);
  requireStringEntries(FIGURE, "rowLabels", input.rowLabels);
  requireStringEntries(FIGURE, "colLabels", input.colLabels);
  input.values.forEach((row, r) =>
    requireMatchingLength(FIGURE, `values[${r}]`, row, "colLabels", input.colLabels.length),
  );
  requireString(FIGURE, "xLabel", input.xLabel);
  requireString(FIGURE, "yLabel", input.yLabel);
  if (input.colorScale !== "sequential" && input.colorScale !== "diverging") {
    throw figureInputError(
      `${FIGURE}: colorScale must be "sequential" or "diverging"; got ${describe(input.colorScale)}`,
    );
  }
  if (input.range !== undefined) validateRange(input.range);
  if (input.valueLabel !== undefined) requireString(FIGURE, "valueLabel", input.valueLabel);
  if (input.missingLabel !== undefined) requireString(FIGURE, "missingLabel", input.missingLabel);
  if (input.caption !== undefined) requireString(FIGURE, "caption", input.caption);
  if (input.skipped !== undefined) validateSkipped(input);
}

function validateSkipped(input: HeatmapInput): void {
  const { label, cells } = input.skipped!;
  requireString(FIGURE, "skipped.label", label);
  requireMatchingLength(FIGURE, "skipped.cells", cells, "values (rows)", input.values.length);
  cells.forEach((row, r) => {
    requireMatchingLength(FIGURE, `skipped.cells[${r}]`, row, "colLabels", input.colLabels.length);
    row.forEach((skip, c) => {
      if (skip && input.values[r]![c] !== null) {
        throw figureInputError(`${FIGURE}: skipped cell [${r}][${c}] must have the value null; got ${describe(input.values[r]![c])}`);
      }
    });
  });
}

function validateRange(range: unknown): void {
  const ok =
    Array.isArray(range) &&
    range.length === 2 &&
    typeof range[0] === "number" &&
    typeof range[1] === "number" &&
    Number.isFinite(range[0]) &&
    Number.isFinite(range[1]) &&
    range[0] < range[1];
  if (!ok) {
    const shown = Array.isArray(range) ? `[${range.map(describe).join(", ")}]` : describe(range);
    throw figureInputError(`${FIGURE}: range must be [min, max] with finite min < max; got ${shown}`);
  }
}
