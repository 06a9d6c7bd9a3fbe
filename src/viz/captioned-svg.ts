/**
 * captionedSvg(): a figure's SVG as a standalone file: the chart, then its caption as visible wrapped
 * text below it, the caption also in <desc> (read by screen readers and search). The chart keeps its
 * place at the top, so a page that prints the caption itself can crop the file to the chart's height.
 */
import { escapeXml } from "./escape-xml.ts";
import { formatSvgNumber } from "./number-format.ts";
import { svgElement, svgText } from "./svg-markup.ts";
import { svgRootSize, svgRootTitleMarkup } from "./svg-root.ts";
import { wrapText } from "./text-metrics.ts";
import { THEME } from "./theme.ts";

const LINE_HEIGHT = THEME.captionFontSize * 1.4;

export function captionedSvg(svg: string, caption: string, fallbackTitle: string): string {
  const { width, height } = svgRootSize(svg, `captionedSvg: the figure "${fallbackTitle}"`);
  const lines = wrapText(caption, width - 2 * THEME.padding, THEME.captionFontSize);
  const total = Math.ceil(height + lines.length * LINE_HEIGHT + (lines.length > 0 ? THEME.padding : 0));
  const title = svgRootTitleMarkup(svg) ?? escapeXml(fallbackTitle);
  const captionMarkup = lines.map((line, i) =>
    svgText(
      { x: THEME.padding, y: height + (i + 1) * LINE_HEIGHT - 4, "font-size": THEME.captionFontSize, fill: THEME.mutedTextColor },
      line,
    ),
  );
  return svgElement(
    "svg",
    {
      xmlns: "http://www.w3.org/2000/svg",
      width,
      height: total,
      viewBox: `0 0 ${formatSvgNumber(width)} ${formatSvgNumber(total)}`,
      role: "img",
      "font-family": THEME.fontFamily,
      fill: THEME.textColor,
    },
    `<title>${title}</title>`,
    `<desc>${escapeXml(caption)}</desc>`,
    svgElement("rect", { width, height: total, fill: THEME.background }),
    svg.trimStart().replace(/^<svg\b/, '<svg x="0" y="0"'),
    svgElement("g", { class: "caption" }, ...captionMarkup),
  );
}
