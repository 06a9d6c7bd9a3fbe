/** A vertical colour bar with numeric ticks (and an "n/a" swatch when some cells are missing, a labelled one for skipped cells). */

import type { ColorScale } from "./color-scales.ts";
import { missingCellShapes, skippedCellShapes } from "./missing-cell.ts";
import { niceTicksWithin } from "./nice-ticks.ts";
import { formatCompactNumber, formatSvgNumber } from "./number-format.ts";
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
  /** The missing swatch's label (default "n/a"). */
  readonly missingLabel?: string;
  /** Some values lie above (below) the range and are drawn in the end colour: a triangle cap and "> max" ("< min") say so. */
  readonly clippedAbove?: boolean;
  readonly clippedBelow?: boolean;
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
/** Height of the triangle cap drawn beyond a clipped end of the bar. */
const CAP = 10;

/** Lay out the colour bar; the caller translates it into place. */
export function renderColorBarLegend(input: ColorBarLegendInput): LegendMarkup {
  const [min, max] = input.range;
  const fontSize = THEME.legendFontSize;
  const labelLines = wrapText(input.valueLabel, MAX_LABEL_WIDTH, fontSize);
  const capAbove = input.clippedAbove ? CAP + 2 : 0;
  const barTop = labelLines.length * LABEL_LINE_HEIGHT + (labelLines.length > 0 ? 6 : 0) + capAbove;
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

  const capLabels: string[] = [];
  if (input.clippedAbove) {
    const label = `> ${formatCompactNumber(max)} (clipped)`;
    capLabels.push(label);
    markup.push(capTriangle(barTop - 1, -1, input.scale(max), `values above ${formatCompactNumber(max)} are drawn in this colour`));
    markup.push(svgText({ x: BAR_WIDTH + 7, y: barTop - 1 - CAP / 2 + fontSize * 0.35, "font-size": fontSize }, label));
  }
  if (input.clippedBelow) {
    const label = `< ${formatCompactNumber(min)} (clipped)`;
    capLabels.push(label);
    markup.push(capTriangle(barTop + barHeight + 1, 1, input.scale(min), `values below ${formatCompactNumber(min)} are drawn in this colour`));
    markup.push(svgText({ x: BAR_WIDTH + 7, y: barTop + barHeight + 1 + CAP / 2 + fontSize * 0.35, "font-size": fontSize }, label));
  }

  const ticks = niceTicksWithin(min, max, 5);
  const tickValues = ticks.values.length >= 2 ? ticks.values : [min, max];
  const tickLabels = ticks.values.length >= 2 ? ticks.labels : [formatCompactNumber(min), formatCompactNumber(max)];
  tickValues.forEach((value, i) => {
    const y = yOf(value);
    markup.push(svgElement("line", { x1: BAR_WIDTH, y1: y, x2: BAR_WIDTH + 4, y2: y, stroke: THEME.axisColor }));
    markup.push(svgText({ x: BAR_WIDTH + 7, y: y + fontSize * 0.35, "font-size": fontSize }, tickLabels[i]));
  });

  const missingLabel = input.missingLabel ?? "n/a";
  let height = barTop + barHeight + (input.clippedBelow ? CAP + 2 : 0);
  if (input.showMissingSwatch) {
    const swatchTop = height + 14;
    markup.push(...missingCellShapes(0, swatchTop, BAR_WIDTH, BAR_WIDTH));
    markup.push(svgText({ x: BAR_WIDTH + 7, y: swatchTop + BAR_WIDTH / 2 + fontSize * 0.35, "font-size": fontSize }, missingLabel));
    height = swatchTop + BAR_WIDTH;
  }
  if (input.skippedLabel !== undefined) {
    const swatchTop = height + (input.showMissingSwatch ? 6 : 14);
    markup.push(...skippedCellShapes(0, swatchTop, BAR_WIDTH, BAR_WIDTH));
    markup.push(svgText({ x: BAR_WIDTH + 7, y: swatchTop + BAR_WIDTH / 2 + fontSize * 0.35, "font-size": fontSize }, input.skippedLabel));
    height = swatchTop + BAR_WIDTH;
  }

  const width = Math.max(
    BAR_WIDTH + 7 + widestTextWidth([...tickLabels, ...capLabels, ...(input.showMissingSwatch ? [missingLabel] : []), ...(input.skippedLabel === undefined ? [] : [input.skippedLabel])], fontSize),
    widestTextWidth(labelLines, fontSize),
  );
  return { markup, width, height };
}

/** A triangle of the end colour beyond the bar: its base on the bar's end at y, its tip `direction` (−1 up, +1 down). */
function capTriangle(y: number, direction: -1 | 1, fill: string, tooltip: string): string {
  const tip = y + direction * CAP;
  return svgElement(
    "path",
    { d: `M0 ${formatSvgNumber(y)}L${BAR_WIDTH} ${formatSvgNumber(y)}L${BAR_WIDTH / 2} ${formatSvgNumber(tip)}Z`, fill, stroke: THEME.axisColor },
    svgTitle(tooltip),
  );
}
