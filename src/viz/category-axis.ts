/**
 * Axes for categorical positions (heatmap rows/columns, bars). When labels would collide only every
 * k-th one is drawn (k from 1, 2, 5, 10, ...); long bottom labels are rotated 45° if that lets more show.
 * Labels longer than THEME.maxTickLabelCharacters are cut with "…" and keep the full text as a tooltip.
 */

import { labelStride } from "./label-stride.ts";
import { rotateAbout, svgElement, svgText } from "./svg-markup.ts";
import { widestTextWidth, truncateText } from "./text-metrics.ts";
import { THEME } from "./theme.ts";

export interface CategoryAxisInput {
  readonly labels: readonly string[];
  /** Distance between neighbouring category centres in pixels. */
  readonly spacing: number;
  /** Centre of category i, in plot coordinates along the axis. */
  readonly centerOf: (index: number) => number;
}

export interface BottomAxisMarkup {
  readonly markup: string[];
  /** Space taken below the plot's bottom edge. */
  readonly height: number;
  /** How far rotated labels reach left of the plot's left edge (0 if they do not). */
  readonly leftOverflow: number;
}

export interface LeftAxisMarkup {
  readonly markup: string[];
  /** Space taken left of the plot's left edge. */
  readonly width: number;
}

const TICK_LENGTH = 4;
const LABEL_GAP = 2;
const SIN_45 = Math.SQRT1_2;

/** Category labels under a plot whose bottom edge is at y = plotHeight. */
export function renderBottomCategoryAxis(input: CategoryAxisInput, plotHeight: number): BottomAxisMarkup {
  const fontSize = THEME.tickFontSize;
  const shown = input.labels.map((label) => truncateText(label, THEME.maxTickLabelCharacters));
  const widest = widestTextWidth(shown, fontSize);
  const horizontalStride = labelStride(input.spacing, widest + 8);
  const rotatedStride = labelStride(input.spacing, fontSize * 1.5);
  const rotate = rotatedStride < horizontalStride;
  const stride = rotate ? rotatedStride : horizontalStride;

  const markup: string[] = [];
  let leftOverflow = 0;
  let widestShown = 0;
  for (let i = 0; i < shown.length; i += stride) {
    const x = input.centerOf(i);
    const tooltip = shown[i] === input.labels[i] ? undefined : input.labels[i];
    markup.push(tickLine(x, plotHeight, x, plotHeight + TICK_LENGTH));
    if (rotate) {
      const anchorY = plotHeight + TICK_LENGTH + LABEL_GAP + 2;
      const labelWidth = widestTextWidth([shown[i]], fontSize);
      widestShown = Math.max(widestShown, labelWidth);
      leftOverflow = Math.max(leftOverflow, labelWidth * SIN_45 - x);
      markup.push(
        svgText(
          {
            x,
            y: anchorY + fontSize * 0.35,
            "font-size": fontSize,
            "text-anchor": "end",
            transform: rotateAbout(-45, x, anchorY),
          },
          shown[i],
          tooltip,
        ),
      );
    } else {
      markup.push(
        svgText(
          { x, y: plotHeight + TICK_LENGTH + LABEL_GAP + fontSize, "font-size": fontSize, "text-anchor": "middle" },
          shown[i],
          tooltip,
        ),
      );
    }
  }
  const height = rotate
    ? TICK_LENGTH + LABEL_GAP + 2 + widestShown * SIN_45 + fontSize
    : TICK_LENGTH + LABEL_GAP + fontSize + 3;
  return { markup, height, leftOverflow };
}

/** Category labels left of a plot whose left edge is at x = 0. */
export function renderLeftCategoryAxis(input: CategoryAxisInput): LeftAxisMarkup {
  const fontSize = THEME.tickFontSize;
  const shown = input.labels.map((label) => truncateText(label, THEME.maxTickLabelCharacters));
  const stride = labelStride(input.spacing, fontSize * 1.4);
  const markup: string[] = [];
  const drawn: string[] = [];
  for (let i = 0; i < shown.length; i += stride) {
    const y = input.centerOf(i);
    const tooltip = shown[i] === input.labels[i] ? undefined : input.labels[i];
    drawn.push(shown[i]);
    markup.push(tickLine(-TICK_LENGTH, y, 0, y));
    markup.push(
      svgText(
        { x: -TICK_LENGTH - LABEL_GAP - 2, y: y + fontSize * 0.35, "font-size": fontSize, "text-anchor": "end" },
        shown[i],
        tooltip,
      ),
    );
  }
  return { markup, width: TICK_LENGTH + LABEL_GAP + 2 + widestTextWidth(drawn, fontSize) };
}

function tickLine(x1: number, y1: number, x2: number, y2: number): string {
  return svgElement("line", { x1, y1, x2, y2, stroke: THEME.axisColor });
}
