/** A vertical colour bar with numeric ticks (and an "n/a" swatch when some cells are missing, a labelled one for skipped cells). */

import type { ColorScale } from "./color-scales.ts";
import { missingCellShapes, skippedCellShapes } from "./missing-cell.ts";
import { niceTicksWithin } from "./nice-ticks.ts";
import { formatCompactNumber } from "./number-format.ts";
import { svgElement, svgText, svgTitle } from "./svg-markup.ts";
import { widestTextWidth, wrapText } from "./text-metrics.ts";
import { THEME } from "./theme.ts";

export interface ColorBarLegendInput {
  readonly scale: ColorScale;
  readonly range: readonly [number, number];
  /** What the colour encodes, shown above the bar (may be empty). */
  readonly valueLabel: string;
  readonly barHeight: number;
  readonly showMissingSwatch: boolean;
  /** A swatch of skipped cells (skippedCellShapes) with this label, below the "n/a" one. */
  readonly skippedLabel?: string;
}

export interface LegendMarkup {
  /** Markup with the legend's top-left corner at (0, 0). */
  readonly markup: string[];
  readonly width: number;
  readonly height: number;
}

const BAR_WIDTH = 14;
const GRADIENT_STEPS = 64;
const LABEL_LINE_HEIGHT = THEME.legendFontSize * 1.3;
const MAX_LABEL_WIDTH = 140;

/** Lay out the colour bar; the caller translates it into place. */
export function renderColorBarLegend(input: ColorBarLegendInput): LegendMarkup {
  const [min, max] = input.range;
  const fontSize = THEME.legendFontSize;
  const labelLines = wrapText(input.valueLabel, MAX_LABEL_WIDTH, fontSize);
  const barTop = labelLines.length * LABEL_LINE_HEIGHT + (labelLines.length > 0 ? 6 : 0);
  const barHeight = input.barHeight;
  const yOf = (value: number) => barTop + ((max - value) / (max - min)) * barHeight;

  const markup: string[] = labelLines.map((line, i) =>
    svgText({ x: 0, y: (i + 1) * LABEL_LINE_HEIGHT - 3, "font-size": fontSize }, line),
  );

  const stepHeight = barHeight / GRADIENT_STEPS;
  for (let i = 0; i < GRADIENT_STEPS; i++) {
    const value = max - ((i + 0.5) / GRADIENT_STEPS) * (max - min);
    markup.push(
      svgElement("rect", {
        x: 0,
        y: barTop + i * stepHeight,
        width: BAR_WIDTH,
        height: stepHeight + 0.5,
        fill: input.scale(value),
      }),
    );
  }
  markup.push(
    svgElement(
      "rect",
      { x: 0, y: barTop, width: BAR_WIDTH, height: barHeight, fill: "none", stroke: THEME.axisColor },
      svgTitle(`colour range: ${formatCompactNumber(min)} to ${formatCompactNumber(max)}`),
    ),
  );

  const ticks = niceTicksWithin(min, max, 5);
  const tickValues = ticks.values.length >= 2 ? ticks.values : [min, max];
  const tickLabels = ticks.values.length >= 2 ? ticks.labels : [formatCompactNumber(min), formatCompactNumber(max)];
  tickValues.forEach((value, i) => {
    const y = yOf(value);
    markup.push(svgElement("line", { x1: BAR_WIDTH, y1: y, x2: BAR_WIDTH + 4, y2: y, stroke: THEME.axisColor }));
    markup.push(svgText({ x: BAR_WIDTH + 7, y: y + fontSize * 0.35, "font-size": fontSize }, tickLabels[i]));
  });

  let height = barTop + barHeight;
  if (input.showMissingSwatch) {
    const swatchTop = height + 14;
    markup.push(...missingCellShapes(0, swatchTop, BAR_WIDTH, BAR_WIDTH));
    markup.push(svgText({ x: BAR_WIDTH + 7, y: swatchTop + BAR_WIDTH / 2 + fontSize * 0.35, "font-size": fontSize }, "n/a"));
    height = swatchTop + BAR_WIDTH;
  }
  if (input.skippedLabel !== undefined) {
    const swatchTop = height + (input.showMissingSwatch ? 6 : 14);
    markup.push(...skippedCellShapes(0, swatchTop, BAR_WIDTH, BAR_WIDTH));
    markup.push(svgText({ x: BAR_WIDTH + 7, y: swatchTop + BAR_WIDTH / 2 + fontSize * 0.35, "font-size": fontSize }, input.skippedLabel));
    height = swatchTop + BAR_WIDTH;
  }

  const width = Math.max(
    BAR_WIDTH + 7 + widestTextWidth([...tickLabels, "n/a", ...(input.skippedLabel === undefined ? [] : [input.skippedLabel])], fontSize),
    widestTextWidth(labelLines, fontSize),
  );
  return { markup, width, height };
}
