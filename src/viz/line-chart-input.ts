/** The line chart's input type and its validation. */

import {
  figureInputError,
  requireFiniteNumber,
  requireMatchingLength,
  requireNonEmptyArray,
  requireString,
  describe,
} from "./input-checks.ts";

export interface LineSeries {
  readonly name: string;
  /** One value per x; NaN/±Infinity/null leave a gap in the line. */
  readonly values: readonly (number | null)[];
}

export interface LineChartInput {
  readonly title: string;
  /** Shared x positions (finite numbers), e.g. years 0..99. */
  readonly x: readonly number[];
  readonly series: readonly LineSeries[];
  readonly xLabel: string;
  readonly yLabel: string;
  /** Draw a dashed vertical line at this x (e.g. the prompt's start year). */
  readonly verticalMarker?: number;
  readonly caption?: string;
}

const FIGURE = "lineChart";

/** Throw a "bad_figure_input" error naming the first invalid field. */
export function validateLineChartInput(input: LineChartInput): void {
  requireString(FIGURE, "title", input.title);
  requireNonEmptyArray(FIGURE, "x", input.x);
  input.x.forEach((value, i) => requireFiniteNumber(FIGURE, `x[${i}]`, value));
  requireNonEmptyArray(FIGURE, "series", input.series);
  input.series.forEach((series, i) => {
    if (typeof series !== "object" || series === null) {
      throw figureInputError(`${FIGURE}: series[${i}] must be { name, values }; got ${describe(series)}`);
    }
    requireString(FIGURE, `series[${i}].name`, series.name);
    requireMatchingLength(FIGURE, `series[${i}].values (${JSON.stringify(series.name)})`, series.values, "x", input.x.length);
  });
  requireString(FIGURE, "xLabel", input.xLabel);
  requireString(FIGURE, "yLabel", input.yLabel);
  if (input.verticalMarker !== undefined) requireFiniteNumber(FIGURE, "verticalMarker", input.verticalMarker);
  if (input.caption !== undefined) requireString(FIGURE, "caption", input.caption);
}
