/** noteFigure(): a figure that has nothing to draw and says why, so a report section is never an empty grid. */

import { renderChartFrame } from "./chart-frame.ts";
import { Figure } from "./figure.ts";

export function noteFigure(name: string, title: string, reason: string): Figure {
  const svg = renderChartFrame({ title, caption: reason, plotWidth: 0, plotHeight: 0, margins: { top: 0, right: 0, bottom: 0, left: 0 }, plotMarkup: [] });
  return new Figure({ name, svg, caption: reason, note: true });
}
