/**
 * lineChart(): one line per series over shared x positions, with grid, axes, a legend, an optional
 * dashed vertical marker, and invisible hover targets whose tooltips give each point's value (four significant digits).
 */

import { axisTitleHeight, axisTitleWidth, renderXAxisTitle, renderYAxisTitle } from "./axis-titles.ts";
import { renderChartFrame } from "./chart-frame.ts";
import { CATEGORICAL_PALETTE, SERIES_DASH_PATTERNS } from "./color-scales.ts";
import { validateLineChartInput, type LineChartInput, type LineSeries } from "./line-chart-input.ts";
import { makeLinearScale, type LinearScale } from "./linear-scale.ts";
import { drawableExtent } from "./drawable-extent.ts";
import { niceTicks } from "./nice-ticks.ts";
import { renderBottomNumericAxis, renderLeftNumericAxis } from "./numeric-axis.ts";
import { formatCompactNumber, formatTooltipValue, formatSvgNumber, isDrawableNumber } from "./number-format.ts";
import { renderSwatchLegend } from "./swatch-legend.ts";
import { svgElement, svgText, svgTitle } from "./svg-markup.ts";
import { THEME } from "./theme.ts";

export type { LineChartInput, LineSeries } from "./line-chart-input.ts";

const PLOT_WIDTH = 560;
const PLOT_HEIGHT = 320;
const LEGEND_GAP = 20;
/** Above this many points, per-point hover targets are omitted to keep the file small (lines keep tooltips). */
const MAX_HOVER_POINTS = 5000;
const MARKER_COLOR = "#444444";

/** Render a line chart as a standalone SVG document string. */
export function lineChart(input: LineChartInput): string {
  validateLineChartInput(input);
  const xExtent = drawableExtent(
    input.verticalMarker === undefined ? input.x : [...input.x, input.verticalMarker],
    false,
  );
  const xTicks = niceTicks(xExtent[0], xExtent[1], 6);
  const yTicks = niceTicks(
    ...drawableExtent(
      input.series.flatMap((s) => s.values.filter(isDrawableNumber)),
      false,
    ),
  );
  const xScale = makeLinearScale([xTicks.min, xTicks.max], [0, PLOT_WIDTH]);
  const yScale = makeLinearScale([yTicks.min, yTicks.max], [PLOT_HEIGHT, 0]);

  const style = (i: number) => ({
    color: CATEGORICAL_PALETTE[i % CATEGORICAL_PALETTE.length],
    dash: SERIES_DASH_PATTERNS[Math.floor(i / CATEGORICAL_PALETTE.length) % SERIES_DASH_PATTERNS.length],
  });
  const lines = input.series.map((series, i) => renderSeriesLine(input.x, series, xScale, yScale, style(i)));
  const pointCount = input.series.length * input.x.length;
  const hoverTargets =
    pointCount <= MAX_HOVER_POINTS ? input.series.flatMap((series) => renderHoverTargets(input, series, xScale, yScale)) : [];

  const leftAxis = renderLeftNumericAxis(yTicks, yScale, PLOT_WIDTH);
  const bottomAxis = renderBottomNumericAxis(xTicks, xScale, PLOT_HEIGHT);
  const legend = renderSwatchLegend(
    input.series.map((series, i) => ({ label: series.name, shape: "line" as const, ...style(i) })),
  );
  const marker = input.verticalMarker === undefined ? [] : renderMarker(input.verticalMarker, input.xLabel, xScale);

  return renderChartFrame({
    title: input.title,
    caption: input.caption,
    plotWidth: PLOT_WIDTH,
    plotHeight: PLOT_HEIGHT,
    margins: {
      top: marker.length > 0 ? THEME.tickFontSize + 6 : 0,
      right: LEGEND_GAP + legend.width,
      bottom: bottomAxis.height + axisTitleHeight(input.xLabel),
      left: leftAxis.width + axisTitleWidth(input.yLabel),
    },
    minimumContentHeight: legend.height,
    plotMarkup: [
      ...leftAxis.markup,
      ...bottomAxis.markup,
      svgElement("rect", { x: 0, y: 0, width: PLOT_WIDTH, height: PLOT_HEIGHT, fill: "none", stroke: THEME.axisColor }),
      ...marker,
      ...lines,
      svgElement("g", { fill: "#000000", "fill-opacity": 0 }, ...hoverTargets),
      renderXAxisTitle(input.xLabel, PLOT_WIDTH, PLOT_HEIGHT, bottomAxis.height),
      renderYAxisTitle(input.yLabel, PLOT_HEIGHT, leftAxis.width),
      svgElement("g", { transform: `translate(${formatSvgNumber(PLOT_WIDTH + LEGEND_GAP)} 0)` }, ...legend.markup),
    ],
  });
}

/** A path through the drawable points; a missing value ends the current segment (a gap, not a zero). */
function renderSeriesLine(
  x: readonly number[],
  series: LineSeries,
  xScale: LinearScale,
  yScale: LinearScale,
  style: { color: string; dash: string | undefined },
): string {
  const commands: string[] = [];
  let penDown = false;
  series.values.forEach((value, i) => {
    if (!isDrawableNumber(value)) {
      penDown = false;
      return;
    }
    commands.push(`${penDown ? "L" : "M"}${formatSvgNumber(xScale(x[i]))} ${formatSvgNumber(yScale(value))}`);
    penDown = true;
  });
  const singlePoints = isolatedPoints(series.values).map((i) =>
    svgElement("circle", { cx: xScale(x[i]), cy: yScale(series.values[i] as number), r: 2, fill: style.color }),
  );
  const path =
    commands.length === 0
      ? ""
      : svgElement(
          "path",
          {
            d: commands.join(""),
            fill: "none",
            stroke: style.color,
            "stroke-width": 1.75,
            "stroke-linejoin": "round",
            "stroke-dasharray": style.dash,
          },
          svgTitle(series.name),
        );
  return path + singlePoints.join("");
}

/** Indices of drawable values with no drawable neighbour: a path would show nothing there, so draw a dot. */
function isolatedPoints(values: readonly (number | null)[]): number[] {
  const indices: number[] = [];
  values.forEach((value, i) => {
    if (isDrawableNumber(value) && !isDrawableNumber(values[i - 1]) && !isDrawableNumber(values[i + 1])) {
      indices.push(i);
    }
  });
  return indices;
}

function renderHoverTargets(input: LineChartInput, series: LineSeries, xScale: LinearScale, yScale: LinearScale): string[] {
  const targets: string[] = [];
  series.values.forEach((value, i) => {
    if (!isDrawableNumber(value)) return;
    const text = `${series.name}: ${input.xLabel || "x"} = ${formatTooltipValue(input.x[i])}, ${input.yLabel || "y"} = ${formatTooltipValue(value)}`;
    targets.push(svgElement("circle", { cx: xScale(input.x[i]), cy: yScale(value), r: 4 }, svgTitle(text)));
  });
  return targets;
}

function renderMarker(markerX: number, xLabel: string, xScale: LinearScale): string[] {
  const x = xScale(markerX);
  const label = `${xLabel || "x"} = ${formatCompactNumber(markerX)}`;
  return [
    svgElement(
      "line",
      { x1: x, y1: 0, x2: x, y2: PLOT_HEIGHT, stroke: MARKER_COLOR, "stroke-width": 1.25, "stroke-dasharray": "5 4" },
      svgTitle(`${xLabel || "x"} = ${formatTooltipValue(markerX)}`),
    ),
    svgText({ x, y: -5, "font-size": THEME.tickFontSize, "text-anchor": "middle", fill: MARKER_COLOR }, label),
  ];
}
