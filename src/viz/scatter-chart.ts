/**
 * scatterChart(): points at (x, y) with grid, numeric axes, an optional sequential colour per point
 * with its colour bar, a tooltip on every point giving its label and coordinates (four significant digits),
 * and optionally the line y = x.
 */

import { axisTitleHeight, axisTitleWidth, renderXAxisTitle, renderYAxisTitle } from "./axis-titles.ts";
import { renderChartFrame } from "./chart-frame.ts";
import { renderColorBarLegend } from "./color-bar-legend.ts";
import { BAR_FILL, defaultColorRange, makeColorScale } from "./color-scales.ts";
import { drawableExtent } from "./drawable-extent.ts";
import { makeLinearScale } from "./linear-scale.ts";
import { niceTicks } from "./nice-ticks.ts";
import { renderBottomNumericAxis, renderLeftNumericAxis } from "./numeric-axis.ts";
import { formatTooltipValue, formatSvgNumber } from "./number-format.ts";
import { type ScatterChartInput, validateScatterChartInput } from "./scatter-chart-input.ts";
import { svgElement, svgTitle } from "./svg-markup.ts";
import { THEME } from "./theme.ts";

export type { ScatterChartInput } from "./scatter-chart-input.ts";

const PLOT_WIDTH = 420;
const PLOT_HEIGHT = 360;
const LEGEND_GAP = 20;
const POINT_RADIUS = 3.5;

/** Render a scatter chart as a standalone SVG document string. */
export function scatterChart(input: ScatterChartInput): string {
  validateScatterChartInput(input);
  const shared = input.identityLine === true ? niceTicks(...drawableExtent([...input.x, ...input.y], false), 6) : null;
  const xTicks = shared ?? niceTicks(...drawableExtent(input.x, false), 6);
  const yTicks = shared ?? niceTicks(...drawableExtent(input.y, false), 6);
  const xScale = makeLinearScale([xTicks.min, xTicks.max], [0, PLOT_WIDTH]);
  const yScale = makeLinearScale([yTicks.min, yTicks.max], [PLOT_HEIGHT, 0]);

  const colorRange = input.colorValues ? defaultColorRange("sequential", ...drawableExtent(input.colorValues, false)) : null;
  const colorScale = colorRange ? makeColorScale("sequential", colorRange) : null;
  const points = input.x.map((x, i) => {
    const label = input.pointLabels?.[i];
    const color = input.colorValues?.[i];
    const tooltip =
      `${label === undefined ? `point ${i}` : label}: ${input.xLabel || "x"} = ${formatTooltipValue(x)}, ${input.yLabel || "y"} = ${formatTooltipValue(input.y[i])}` +
      (color === undefined ? "" : `, ${input.colorLabel || "colour"} = ${formatTooltipValue(color)}`);
    return svgElement(
      "circle",
      {
        cx: xScale(x),
        cy: yScale(input.y[i]!),
        r: POINT_RADIUS,
        fill: colorScale && color !== undefined ? colorScale(color) : BAR_FILL,
        stroke: "#ffffff",
        "stroke-width": 0.5,
      },
      svgTitle(tooltip),
    );
  });

  const leftAxis = renderLeftNumericAxis(yTicks, yScale, PLOT_WIDTH);
  const bottomAxis = renderBottomNumericAxis(xTicks, xScale, PLOT_HEIGHT);
  const legend =
    colorScale && colorRange
      ? renderColorBarLegend({ scale: colorScale, range: colorRange, valueLabel: input.colorLabel ?? "", barHeight: 200, showMissingSwatch: false })
      : null;

  return renderChartFrame({
    title: input.title,
    caption: input.caption,
    plotWidth: PLOT_WIDTH,
    plotHeight: PLOT_HEIGHT,
    margins: {
      top: 0,
      right: legend ? LEGEND_GAP + legend.width : 0,
      bottom: bottomAxis.height + axisTitleHeight(input.xLabel),
      left: leftAxis.width + axisTitleWidth(input.yLabel),
    },
    minimumContentHeight: legend?.height ?? 0,
    plotMarkup: [
      ...leftAxis.markup,
      ...bottomAxis.markup,
      svgElement("rect", { x: 0, y: 0, width: PLOT_WIDTH, height: PLOT_HEIGHT, fill: "none", stroke: THEME.axisColor }),
      ...(shared
        ? [svgElement("line", {
          x1: xScale(shared.min), y1: yScale(shared.min), x2: xScale(shared.max), y2: yScale(shared.max),
          stroke: THEME.axisColor, "stroke-width": 1, "stroke-dasharray": "4 3",
        }, svgTitle("y = x"))]
        : []),
      svgElement("g", {}, ...points),
      renderXAxisTitle(input.xLabel, PLOT_WIDTH, PLOT_HEIGHT, bottomAxis.height),
      renderYAxisTitle(input.yLabel, PLOT_HEIGHT, leftAxis.width),
      ...(legend ? [svgElement("g", { transform: `translate(${formatSvgNumber(PLOT_WIDTH + LEGEND_GAP)} 0)` }, ...legend.markup)] : []),
    ],
  });
}
