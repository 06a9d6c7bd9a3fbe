/** Several chart SVG documents placed left to right in one SVG document (each keeps its own size). */
import { figureInputError } from "./input-checks.ts";
import { svgElement } from "./svg-markup.ts";

const ROOT_SIZE = /^<svg\b[^>]*?\swidth="([\d.]+)"[^>]*?\sheight="([\d.]+)"/;

export function sideBySide(documents: readonly string[], gap = 16): string {
  if (documents.length === 0) throw figureInputError("sideBySide: needs at least one SVG document");
  let x = 0;
  let height = 0;
  const placed = documents.map((document, i) => {
    const size = ROOT_SIZE.exec(document.trimStart());
    if (!size) throw figureInputError(`sideBySide: document ${i} is not an <svg> with width and height attributes`);
    const [w, h] = [Number(size[1]), Number(size[2])];
    // A nested <svg x=…> places the document without rewriting its contents.
    const nested = document.trimStart().replace(/^<svg\b/, `<svg x="${x}" y="0"`);
    x += w + (i < documents.length - 1 ? gap : 0);
    height = Math.max(height, h);
    return nested;
  });
  return svgElement("svg", { xmlns: "http://www.w3.org/2000/svg", width: x, height, viewBox: `0 0 ${x} ${height}`, role: "img" }, ...placed);
}
