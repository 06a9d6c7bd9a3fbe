/** Numeric axes with light grid lines, for bar and line charts. */

import type { LinearScale } from "./linear-scale.ts";
import type { NiceTicks } from "./nice-ticks.ts";
import { svgElement, svgText } from "./svg-markup.ts";
import { widestTextWidth } from "./text-metrics.ts";
import { THEME } from "./theme.ts";

const TICK_LENGTH = 4;
const LABEL_GAP = 3;

/** Ticks and horizontal grid lines for a vertical value axis at x = 0; returns the width it takes. */
export function renderLeftNumericAxis(
  ticks: NiceTicks,
  scale: LinearScale,
  plotWidth: number,
): { markup: string[]; width: number } {
  const fontSize = THEME.tickFontSize;
  const markup: string[] = [];
  ticks.values.forEach((value, i) => {
    const y = scale(value);
    markup.push(svgElement("line", { x1: 0, y1: y, x2: plotWidth, y2: y, stroke: THEME.gridColor }));
    markup.push(svgElement("line", { x1: -TICK_LENGTH, y1: y, x2: 0, y2: y, stroke: THEME.axisColor }));
    markup.push(
      svgText(
        { x: -TICK_LENGTH - LABEL_GAP, y: y + fontSize * 0.35, "font-size": fontSize, "text-anchor": "end" },
        ticks.labels[i],
      ),
    );
  });
  return { markup, width: TICK_LENGTH + LABEL_GAP + widestTextWidth(ticks.labels, fontSize) };
}

/** Ticks and vertical grid lines for a horizontal value axis along y = plotHeight; returns the height it takes. */
export function renderBottomNumericAxis(
  ticks: NiceTicks,
  scale: LinearScale,
  plotHeight: number,
): { markup: string[]; height: number } {
  const fontSize = THEME.tickFontSize;
  const markup: string[] = [];
  ticks.values.forEach((value, i) => {
    const x = scale(value);
    markup.push(svgElement("line", { x1: x, y1: 0, x2: x, y2: plotHeight, stroke: THEME.gridColor }));
    markup.push(svgElement("line", { x1: x, y1: plotHeight, x2: x, y2: plotHeight + TICK_LENGTH, stroke: THEME.axisColor }));
    markup.push(
      svgText(
        { x, y: plotHeight + TICK_LENGTH + LABEL_GAP + fontSize, "font-size": fontSize, "text-anchor": "middle" },
        ticks.labels[i],
      ),
    );
  });
  return { markup, height: TICK_LENGTH + LABEL_GAP + fontSize + 3 };
}
