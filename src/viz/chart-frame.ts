/**
 * The outer frame every chart shares: the root <svg> with explicit size and viewBox, white background,
 * wrapped title on top, the plot drawn in its own coordinates (0,0 = plot's top-left corner) inside
 * the given margins, and an optional wrapped caption underneath.
 */

import { svgElement, svgText, svgTitle } from "./svg-markup.ts";
import { formatSvgNumber } from "./number-format.ts";
import { wrapText } from "./text-metrics.ts";
import { THEME } from "./theme.ts";

export interface PlotMargins {
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
  readonly left: number;
}

export interface ChartFrameInput {
  readonly title: string;
  readonly caption?: string;
  readonly plotWidth: number;
  readonly plotHeight: number;
  /** Room around the plot for axes, tick labels and legends (title and caption are added outside it). */
  readonly margins: PlotMargins;
  /** Extra height needed below the plot's top edge beyond plotHeight + margins.bottom (e.g. a tall legend). */
  readonly minimumContentHeight?: number;
  /** Markup in plot coordinates. */
  readonly plotMarkup: readonly string[];
}

const TITLE_LINE_HEIGHT = THEME.titleFontSize * 1.3;
const CAPTION_LINE_HEIGHT = THEME.captionFontSize * 1.4;

/** Assemble a complete, standalone SVG document string. */
export function renderChartFrame(input: ChartFrameInput): string {
  const { margins, plotWidth, plotHeight } = input;
  const contentWidth = Math.round(margins.left) + plotWidth + margins.right;
  const width = Math.ceil(Math.max(THEME.minimumWidth, contentWidth + 2 * THEME.padding));
  const textWidth = width - 2 * THEME.padding;

  const titleLines = wrapText(input.title, textWidth, THEME.titleFontSize);
  const titleHeight = titleLines.length * TITLE_LINE_HEIGHT;
  // Whole-pixel plot origin keeps cell edges on pixel boundaries (no anti-aliasing seams).
  const plotX = Math.round(THEME.padding + margins.left);
  const plotY = Math.round(THEME.padding + titleHeight + (titleLines.length > 0 ? 8 : 0) + margins.top);
  const contentBottom =
    plotY + Math.max(plotHeight + margins.bottom, input.minimumContentHeight ?? 0);

  const captionLines = wrapText(input.caption ?? "", textWidth, THEME.captionFontSize);
  const captionTop = contentBottom + (captionLines.length > 0 ? 10 : 0);
  const height = Math.ceil(captionTop + captionLines.length * CAPTION_LINE_HEIGHT + THEME.padding);

  const titleMarkup = titleLines.map((line, i) =>
    svgText(
      {
        x: THEME.padding,
        y: THEME.padding + (i + 1) * TITLE_LINE_HEIGHT - 4,
        "font-size": THEME.titleFontSize,
        "font-weight": "bold",
      },
      line,
    ),
  );
  const captionMarkup = captionLines.map((line, i) =>
    svgText(
      {
        x: THEME.padding,
        y: captionTop + (i + 1) * CAPTION_LINE_HEIGHT - 4,
        "font-size": THEME.captionFontSize,
        fill: THEME.mutedTextColor,
      },
      line,
    ),
  );

  return svgElement(
    "svg",
    {
      xmlns: "http://www.w3.org/2000/svg",
      width,
      height,
      viewBox: `0 0 ${formatSvgNumber(width)} ${formatSvgNumber(height)}`,
      role: "img",
      "font-family": THEME.fontFamily,
      fill: THEME.textColor,
    },
    svgTitle(input.title),
    svgElement("rect", { width, height, fill: THEME.background }),
    ...titleMarkup,
    svgElement(
      "g",
      { transform: `translate(${formatSvgNumber(plotX)} ${formatSvgNumber(plotY)})` },
      ...input.plotMarkup,
    ),
    ...captionMarkup,
  );
}
