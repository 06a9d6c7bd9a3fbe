/** The scatter chart's input type and its validation. */

import {
  figureInputError,
  requireFiniteNumber,
  requireMatchingLength,
  requireNonEmptyArray,
  requireString,
  requireStringEntries,
} from "./input-checks.ts";

export interface ScatterChartInput {
  readonly title: string;
  /** Point coordinates (finite numbers), one x and one y per point. */
  readonly x: readonly number[];
  readonly y: readonly number[];
  /** A number per point coloured on the sequential (viridis) scale, e.g. the start year YY. */
  readonly colorValues?: readonly number[];
  /** What the colour encodes, shown above the colour bar. */
  readonly colorLabel?: string;
  /** A label per point, shown in its tooltip. */
  readonly pointLabels?: readonly string[];
  readonly xLabel: string;
  readonly yLabel: string;
  readonly caption?: string;
  /**
   * Draw the line y = x (dashed), with both axes on one shared range so it is the diagonal: for
   * plotting an estimate against the value it estimates.
   */
  readonly identityLine?: boolean;
}

const FIGURE = "scatterChart";

/** Throw a "bad_figure_input" error naming the first invalid field. */
export function validateScatterChartInput(input: ScatterChartInput): void {
  requireString(FIGURE, "title", input.title);
  requireNonEmptyArray(FIGURE, "x", input.x);
  input.x.forEach((value, i) => requireFiniteNumber(FIGURE, `x[${i}]`, value));
  requireMatchingLength(FIGURE, "y", input.y, "x", input.x.length);
  input.y.forEach((value, i) => requireFiniteNumber(FIGURE, `y[${i}]`, value));
  if (input.colorValues !== undefined) {
    requireMatchingLength(FIGURE, "colorValues", input.colorValues, "x", input.x.length);
    input.colorValues.forEach((value, i) => requireFiniteNumber(FIGURE, `colorValues[${i}]`, value));
  }
  if (input.colorLabel !== undefined) requireString(FIGURE, "colorLabel", input.colorLabel);
  if (input.pointLabels !== undefined) {
    requireMatchingLength(FIGURE, "pointLabels", input.pointLabels, "x", input.x.length);
    requireStringEntries(FIGURE, "pointLabels", input.pointLabels);
  }
  requireString(FIGURE, "xLabel", input.xLabel);
  requireString(FIGURE, "yLabel", input.yLabel);
  if (input.caption !== undefined) requireString(FIGURE, "caption", input.caption);
  if (input.identityLine !== undefined && typeof input.identityLine !== "boolean") {
    throw figureInputError(`${FIGURE}: identityLine must be true or false, got ${JSON.stringify(input.identityLine)}`);
  }
  if (input.colorLabel !== undefined && input.colorValues === undefined) {
    throw figureInputError(`${FIGURE}: colorLabel is given but colorValues is not`);
  }
}
