/**
 * heatmap(): a rows × cols grid of coloured cells with row/column labels, axis titles, a colour bar and
 * a tooltip on every cell giving its row, column and value (four significant digits). Row 0 is drawn at the top.
 */

import { axisTitleHeight, axisTitleWidth, renderXAxisTitle, renderYAxisTitle } from "./axis-titles.ts";
import { renderBottomCategoryAxis, renderLeftCategoryAxis } from "./category-axis.ts";
import { renderChartFrame } from "./chart-frame.ts";
import { renderColorBarLegend } from "./color-bar-legend.ts";
import { defaultColorRange, makeColorScale, type ColorScale } from "./color-scales.ts";
import { validateHeatmapInput, type HeatmapInput } from "./heatmap-input.ts";
import { missingCellShapes, skippedCellShapes } from "./missing-cell.ts";
import { clampForDrawing } from "./drawable-extent.ts";
import { formatTooltipValue, formatSvgNumber, isDrawableNumber } from "./number-format.ts";
import { svgElement, svgGroup, svgTitle } from "./svg-markup.ts";
import { THEME } from "./theme.ts";

export type { HeatmapInput } from "./heatmap-input.ts";

const MIN_CELL = 6;
const MAX_CELL = 44;
const TARGET_PLOT_WIDTH = 640;
const TARGET_PLOT_HEIGHT = 560;
/** Cells at least this big get a faint outline so neighbouring near-white cells stay distinguishable. */
const OUTLINED_CELL = 16;
const LEGEND_GAP = 20;

/** Render a heatmap as a standalone SVG document string. */
export function heatmap(input: HeatmapInput): string {
  validateHeatmapInput(input);
  const rows = input.values.length;
  const cols = input.colLabels.length;
  const cellWidth = clampCell(TARGET_PLOT_WIDTH / cols);
  const cellHeight = clampCell(TARGET_PLOT_HEIGHT / rows);
  const plotWidth = cols * cellWidth;
  const plotHeight = rows * cellHeight;

  const range = input.range ?? dataColorRange(input);
  const scale = makeColorScale(input.colorScale, range);

  const cells = renderCells(input, scale, cellWidth, cellHeight);
  const hasMissing = input.values.some((row, r) => row.some((v, c) => !isDrawableNumber(v) && !isSkipped(input, r, c)));
  const hasSkipped = input.skipped?.cells.some((row) => row.some(Boolean)) ?? false;
  const drawn = input.values.flatMap((row) => row.filter(isDrawableNumber));

  const leftAxis = renderLeftCategoryAxis({
    labels: input.rowLabels,
    spacing: cellHeight,
    centerOf: (r) => (r + 0.5) * cellHeight,
  });
  const bottomAxis = renderBottomCategoryAxis(
    { labels: input.colLabels, spacing: cellWidth, centerOf: (c) => (c + 0.5) * cellWidth },
    plotHeight,
  );
  const legend = renderColorBarLegend({
    scale,
    range,
    valueLabel: input.valueLabel ?? "",
    barHeight: Math.min(Math.max(plotHeight, 120), 240),
    showMissingSwatch: hasMissing,
    ...(hasSkipped ? { skippedLabel: input.skipped!.label } : {}),
    ...(input.missingLabel === undefined ? {} : { missingLabel: input.missingLabel }),
    clippedAbove: drawn.some((v) => v > range[1]),
    clippedBelow: drawn.some((v) => v < range[0]),
  });

  const leftOfPlot = Math.max(leftAxis.width, bottomAxis.leftOverflow);
  const margins = {
    top: 0,
    right: LEGEND_GAP + legend.width,
    bottom: bottomAxis.height + axisTitleHeight(input.xLabel),
    left: leftOfPlot + axisTitleWidth(input.yLabel),
  };

  return renderChartFrame({
    title: input.title,
    caption: input.caption,
    plotWidth,
    plotHeight,
    margins,
    minimumContentHeight: legend.height,
    plotMarkup: [
      svgElement("g", { "shape-rendering": "crispEdges" }, ...cells),
      svgElement("rect", { x: 0, y: 0, width: plotWidth, height: plotHeight, fill: "none", stroke: THEME.axisColor }),
      ...leftAxis.markup,
      ...bottomAxis.markup,
      renderXAxisTitle(input.xLabel, plotWidth, plotHeight, bottomAxis.height),
      renderYAxisTitle(input.yLabel, plotHeight, leftOfPlot),
      svgElement(
        "g",
        { transform: `translate(${formatSvgNumber(plotWidth + LEGEND_GAP)} 0)` },
        ...legend.markup,
      ),
    ],
  });
}

function renderCells(input: HeatmapInput, scale: ColorScale, cellWidth: number, cellHeight: number): string[] {
  const outline = cellWidth >= OUTLINED_CELL && cellHeight >= OUTLINED_CELL ? "#ffffff" : undefined;
  const cells: string[] = [];
  input.values.forEach((row, r) => {
    row.forEach((value, c) => {
      const x = c * cellWidth;
      const y = r * cellHeight;
      const tooltip = svgTitle(cellTooltip(input, r, c, value));
      if (isSkipped(input, r, c)) {
        cells.push(svgGroup({}, [...skippedCellShapes(x, y, cellWidth, cellHeight), tooltip]));
      } else if (isDrawableNumber(value)) {
        cells.push(
          svgElement(
            "rect",
            { x, y, width: cellWidth, height: cellHeight, fill: scale(clampForDrawing(value)), stroke: outline },
            tooltip,
          ),
        );
      } else {
        cells.push(svgGroup({}, [...missingCellShapes(x, y, cellWidth, cellHeight), tooltip]));
      }
    });
  });
  return cells;
}

function cellTooltip(input: HeatmapInput, r: number, c: number, value: number | null | undefined): string {
  const row = input.yLabel ? `${input.yLabel} ${input.rowLabels[r]}` : input.rowLabels[r];
  const col = input.xLabel ? `${input.xLabel} ${input.colLabels[c]}` : input.colLabels[c];
  return `${row}, ${col}: ${isSkipped(input, r, c) ? input.skipped!.label : formatTooltipValue(value)}`;
}

function isSkipped(input: HeatmapInput, r: number, c: number): boolean {
  return input.skipped?.cells[r]?.[c] === true;
}

function dataColorRange(input: HeatmapInput): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const row of input.values) {
    for (const value of row) {
      if (!isDrawableNumber(value)) continue;
      const v = clampForDrawing(value);
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (min > max) return input.colorScale === "diverging" ? [-1, 1] : [0, 1];
  return defaultColorRange(input.colorScale, min, max);
}

function clampCell(size: number): number {
  return Math.min(MAX_CELL, Math.max(MIN_CELL, Math.floor(size)));
}
