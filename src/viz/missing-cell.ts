/** How a heatmap cell (or legend swatch) without a drawable value looks: light grey with a diagonal hatch. */

import { MISSING_CELL_FILL, MISSING_CELL_HATCH, SKIPPED_CELL_FILL } from "./color-scales.ts";
import { svgElement } from "./svg-markup.ts";

/** A cell deliberately left out (e.g. "not computed"): a pale rectangle with a dot in its middle, unlike a missing cell's hatch. */
export function skippedCellShapes(x: number, y: number, width: number, height: number): string[] {
  return [
    svgElement("rect", { x, y, width, height, fill: SKIPPED_CELL_FILL }),
    svgElement("circle", { cx: x + width / 2, cy: y + height / 2, r: Math.max(1, Math.min(width, height) / 10), fill: MISSING_CELL_HATCH }),
  ];
}

/** The grey rectangle plus a hatch line, as sibling elements (wrap them in a <g> to attach a tooltip). */
export function missingCellShapes(x: number, y: number, width: number, height: number): string[] {
  return [
    svgElement("rect", { x, y, width, height, fill: MISSING_CELL_FILL }),
    svgElement("line", {
      x1: x,
      y1: y + height,
      x2: x + width,
      y2: y,
      stroke: MISSING_CELL_HATCH,
      "stroke-width": Math.max(0.5, Math.min(width, height) / 12),
    }),
  ];
}
