/** Axis titles: centred under the plot (x) and rotated up the left side (y). */

import { rotateAbout, svgText } from "./svg-markup.ts";
import { THEME } from "./theme.ts";

/** Height an x-axis title occupies (0 when the title is empty). */
export function axisTitleHeight(text: string | undefined): number {
  return text ? THEME.axisLabelFontSize + 8 : 0;
}

/** Width a y-axis title occupies (0 when the title is empty). */
export function axisTitleWidth(text: string | undefined): number {
  return text ? THEME.axisLabelFontSize + 8 : 0;
}

/** The x-axis title with its baseline `offsetBelowPlot` + font size below the plot. */
export function renderXAxisTitle(text: string | undefined, plotWidth: number, plotHeight: number, offsetBelowPlot: number): string {
  if (!text) return "";
  return svgText(
    {
      x: plotWidth / 2,
      y: plotHeight + offsetBelowPlot + THEME.axisLabelFontSize + 4,
      "font-size": THEME.axisLabelFontSize,
      "text-anchor": "middle",
    },
    text,
  );
}

/** The y-axis title, rotated, with its baseline `offsetLeftOfPlot` left of the plot. */
export function renderYAxisTitle(text: string | undefined, plotHeight: number, offsetLeftOfPlot: number): string {
  if (!text) return "";
  const x = -offsetLeftOfPlot - 8;
  const y = plotHeight / 2;
  return svgText(
    { x, y, "font-size": THEME.axisLabelFontSize, "text-anchor": "middle", transform: rotateAbout(-90, x, y) },
    text,
  );
}
