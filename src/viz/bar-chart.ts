/**
 * barChart(): one bar per label, vertical (default) or horizontal, with a zero baseline, value grid,
 * optional accent colour for highlighted bars (plus a legend), and a tooltip with each value (four significant digits).
 */

import { axisTitleHeight, axisTitleWidth, renderXAxisTitle, renderYAxisTitle } from "./axis-titles.ts";
import { validateBarChartInput, type BarChartInput } from "./bar-chart-input.ts";
import { renderBottomCategoryAxis, renderLeftCategoryAxis } from "./category-axis.ts";
import { renderChartFrame, type PlotMargins } from "./chart-frame.ts";
import { ACCENT_FILL, BAR_FILL } from "./color-scales.ts";
import { makeLinearScale, type LinearScale } from "./linear-scale.ts";
import { drawableExtent } from "./drawable-extent.ts";
import { niceTicks } from "./nice-ticks.ts";
import { renderBottomNumericAxis, renderLeftNumericAxis } from "./numeric-axis.ts";
import { formatTooltipValue, formatSvgNumber, isDrawableNumber } from "./number-format.ts";
import { renderSwatchLegend } from "./swatch-legend.ts";
import { svgElement, svgTitle } from "./svg-markup.ts";
import { truncateText, widestTextWidth } from "./text-metrics.ts";
import { THEME } from "./theme.ts";

export type { BarChartInput } from "./bar-chart-input.ts";

const BAR_FILL_FRACTION = 0.8;
const LEGEND_GAP = 20;
const MAX_VERTICAL_PLOT_WIDTH = 640;

/** Render a bar chart as a standalone SVG document string. */
export function barChart(input: BarChartInput): string {
  validateBarChartInput(input);
  const count = input.labels.length;
  const horizontal = input.horizontal === true;
  const band = horizontal ? clamp(Math.floor(360 / count), 12, 40) : verticalBand(input.labels);
  const plotWidth = horizontal ? 420 : count * band;
  const plotHeight = horizontal ? count * band : 300;

  const ticks = niceTicks(...drawableExtent(input.values.filter(isDrawableNumber), true));
  const valueScale = horizontal
    ? makeLinearScale([ticks.min, ticks.max], [0, plotWidth])
    : makeLinearScale([ticks.min, ticks.max], [plotHeight, 0]);
  const bandStart = (i: number) => i * band;

  const highlighted = new Set(input.highlight ?? []);
  const bars = input.labels.map((label, i) =>
    renderBar(label, input.values[i], bandStart(i), band, valueScale, horizontal, highlighted.has(i)),
  );
  const zero = valueScale(0);
  const baseline = horizontal
    ? svgElement("line", { x1: zero, y1: 0, x2: zero, y2: plotHeight, stroke: THEME.axisColor })
    : svgElement("line", { x1: 0, y1: zero, x2: plotWidth, y2: zero, stroke: THEME.axisColor });

  const categoryAxisInput = { labels: input.labels, spacing: band, centerOf: (i: number) => bandStart(i) + band / 2 };
  const legend = renderSwatchLegend(
    highlighted.size === 0
      ? []
      : [
          { label: input.otherLabel ?? "other", color: BAR_FILL, shape: "box" },
          { label: input.highlightLabel ?? "highlighted", color: ACCENT_FILL, shape: "box" },
        ],
  );
  const legendSpace = legend.height > 0 ? LEGEND_GAP + legend.width : 0;

  let axesMarkup: string[];
  let margins: PlotMargins;
  if (horizontal) {
    const left = renderLeftCategoryAxis(categoryAxisInput);
    const bottom = renderBottomNumericAxis(ticks, valueScale, plotHeight);
    axesMarkup = [...bottom.markup, ...left.markup];
    axesMarkup.push(renderXAxisTitle(input.xLabel, plotWidth, plotHeight, bottom.height));
    axesMarkup.push(renderYAxisTitle(input.yLabel, plotHeight, left.width));
    margins = {
      top: 0,
      right: Math.max(legendSpace, 12),
      bottom: bottom.height + axisTitleHeight(input.xLabel),
      left: left.width + axisTitleWidth(input.yLabel),
    };
  } else {
    const left = renderLeftNumericAxis(ticks, valueScale, plotWidth);
    const bottom = renderBottomCategoryAxis(categoryAxisInput, plotHeight);
    const leftOfPlot = Math.max(left.width, bottom.leftOverflow);
    axesMarkup = [...left.markup, ...bottom.markup];
    axesMarkup.push(renderXAxisTitle(input.xLabel, plotWidth, plotHeight, bottom.height));
    axesMarkup.push(renderYAxisTitle(input.yLabel, plotHeight, leftOfPlot));
    margins = {
      top: 0,
      right: Math.max(legendSpace, 12),
      bottom: bottom.height + axisTitleHeight(input.xLabel),
      left: leftOfPlot + axisTitleWidth(input.yLabel),
    };
  }

  return renderChartFrame({
    title: input.title,
    caption: input.caption,
    plotWidth,
    plotHeight,
    margins,
    minimumContentHeight: legend.height,
    plotMarkup: [
      ...axesMarkup,
      ...bars,
      baseline,
      svgElement("g", { transform: `translate(${formatSvgNumber(plotWidth + LEGEND_GAP)} 0)` }, ...legend.markup),
    ],
  });
}

function renderBar(
  label: string,
  value: number | null | undefined,
  bandStart: number,
  band: number,
  valueScale: LinearScale,
  horizontal: boolean,
  highlighted: boolean,
): string {
  const tooltip = svgTitle(`${label}: ${formatTooltipValue(value)}`);
  const thickness = band * BAR_FILL_FRACTION;
  const offset = bandStart + (band - thickness) / 2;
  const zero = valueScale(0);
  if (!isDrawableNumber(value)) {
    const center = bandStart + band / 2;
    const position = horizontal
      ? { x: zero + 4, y: center + THEME.tickFontSize * 0.35, "text-anchor": "start" }
      : { x: center, y: zero - 4, "text-anchor": "middle" };
    return svgElement(
      "text",
      { ...position, "font-size": THEME.tickFontSize, fill: THEME.mutedTextColor },
      "n/a",
      tooltip,
    );
  }
  const end = valueScale(value);
  const fill = highlighted ? ACCENT_FILL : BAR_FILL;
  const geometry = horizontal
    ? { x: Math.min(zero, end), y: offset, width: Math.abs(end - zero), height: thickness }
    : { x: offset, y: Math.min(zero, end), width: thickness, height: Math.abs(end - zero) };
  return svgElement("rect", { ...geometry, fill }, tooltip);
}

/** Bar spacing for vertical charts: widened (up to a 640px plot) when that lets the labels stay horizontal. */
function verticalBand(labels: readonly string[]): number {
  const preferred = clamp(Math.floor(520 / labels.length), 12, 64);
  const shown = labels.map((label) => truncateText(label, THEME.maxTickLabelCharacters));
  const needed = Math.ceil(widestTextWidth(shown, THEME.tickFontSize) + 12);
  return needed > preferred && needed * labels.length <= MAX_VERTICAL_PLOT_WIDTH ? needed : preferred;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

