/** A vertical list of legend entries: a coloured line sample (line charts) or box (bar charts) plus a label. */

import type { LegendMarkup } from "./color-bar-legend.ts";
import { svgElement, svgText } from "./svg-markup.ts";
import { estimateTextWidth, truncateText } from "./text-metrics.ts";
import { THEME } from "./theme.ts";

export interface SwatchLegendEntry {
  readonly label: string;
  readonly color: string;
  readonly shape: "line" | "box";
  /** stroke-dasharray for line samples. */
  readonly dash?: string;
}

const SAMPLE_WIDTH = 22;
const ROW_HEIGHT = 18;
const MAX_LABEL_CHARACTERS = 32;

/** Lay out the entries top to bottom; the caller translates the legend into place. */
export function renderSwatchLegend(entries: readonly SwatchLegendEntry[]): LegendMarkup {
  const fontSize = THEME.legendFontSize;
  const markup: string[] = [];
  let width = 0;
  entries.forEach((entry, i) => {
    const middle = i * ROW_HEIGHT + ROW_HEIGHT / 2;
    if (entry.shape === "line") {
      markup.push(
        svgElement("line", {
          x1: 0,
          y1: middle,
          x2: SAMPLE_WIDTH,
          y2: middle,
          stroke: entry.color,
          "stroke-width": 2,
          "stroke-dasharray": entry.dash,
        }),
      );
    } else {
      markup.push(svgElement("rect", { x: 4, y: middle - 6, width: 12, height: 12, fill: entry.color }));
    }
    const label = truncateText(entry.label, MAX_LABEL_CHARACTERS);
    const tooltip = label === entry.label ? undefined : entry.label;
    markup.push(svgText({ x: SAMPLE_WIDTH + 6, y: middle + fontSize * 0.35, "font-size": fontSize }, label, tooltip));
    width = Math.max(width, SAMPLE_WIDTH + 6 + estimateTextWidth(label, fontSize));
  });
  return { markup, width, height: entries.length * ROW_HEIGHT };
}
