/** The bar chart's input type and its validation. */

import {
  figureInputError,
  requireMatchingLength,
  requireNonEmptyArray,
  requireString,
  requireStringEntries,
  describe,
} from "./input-checks.ts";

export interface BarChartInput {
  readonly title: string;
  readonly labels: readonly string[];
  /** One value per label; NaN/±Infinity/null draw no bar and show "n/a". */
  readonly values: readonly (number | null)[];
  /** Title of the horizontal axis (categories when vertical, values when `horizontal`). */
  readonly xLabel?: string;
  /** Title of the vertical axis (values when vertical, categories when `horizontal`). */
  readonly yLabel?: string;
  /** Indices of bars drawn in the accent colour. */
  readonly highlight?: readonly number[];
  /** Legend text for highlighted bars (default "highlighted") and the others (default "other"). */
  readonly highlightLabel?: string;
  readonly otherLabel?: string;
  /** Bars grow rightwards from category labels on the left (good for long labels such as neuron names). */
  readonly horizontal?: boolean;
  readonly caption?: string;
}

const FIGURE = "barChart";

/** Throw a "bad_figure_input" error naming the first invalid field. */
export function validateBarChartInput(input: BarChartInput): void {
  requireString(FIGURE, "title", input.title);
  requireNonEmptyArray(FIGURE, "labels", input.labels);
  requireStringEntries(FIGURE, "labels", input.labels);
  requireMatchingLength(FIGURE, "values", input.values, "labels", input.labels.length);
  for (const field of ["xLabel", "yLabel", "highlightLabel", "otherLabel", "caption"] as const) {
    if (input[field] !== undefined) requireString(FIGURE, field, input[field]);
  }
  if (input.highlight !== undefined) {
    if (!Array.isArray(input.highlight)) {
      throw figureInputError(`${FIGURE}: highlight must be an array of bar indices; got ${describe(input.highlight)}`);
    }
    input.highlight.forEach((index, i) => {
      if (!Number.isInteger(index) || index < 0 || index >= input.labels.length) {
        throw figureInputError(
          `${FIGURE}: highlight[${i}] = ${describe(index)} is not a bar index (0 to ${input.labels.length - 1})`,
        );
      }
    });
  }
}
