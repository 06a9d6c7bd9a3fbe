/** Several chart SVG documents placed left to right in one SVG document (each keeps its own size). */
import { figureInputError } from "./input-checks.ts";
import { svgElement, svgTitle } from "./svg-markup.ts";
import { svgRootSize } from "./svg-root.ts";

/** `title` names the whole (its <title>), e.g. for the file's tooltip and captionedSvg. */
export function sideBySide(documents: readonly string[], gap = 16, title?: string): string {
  if (documents.length === 0) throw figureInputError("sideBySide: needs at least one SVG document");
  let x = 0;
  let height = 0;
  const placed = documents.map((document, i) => {
    const { width: w, height: h } = svgRootSize(document, `sideBySide: document ${i}`);
    // A nested <svg x=…> places the document without rewriting its contents.
    const nested = document.trimStart().replace(/^<svg\b/, `<svg x="${x}" y="0"`);
    x += w + (i < documents.length - 1 ? gap : 0);
    height = Math.max(height, h);
    return nested;
  });
  return svgElement("svg", { xmlns: "http://www.w3.org/2000/svg", width: x, height, viewBox: `0 0 ${x} ${height}`, role: "img" }, ...(title === undefined ? [] : [svgTitle(title)]), ...placed);
}
