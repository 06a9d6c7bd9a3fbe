/** The size and title of a chart's root <svg> element, read back from its markup. */
import { figureInputError } from "./input-checks.ts";

const ROOT_SIZE = /^<svg\b[^>]*?\swidth="([\d.]+)"[^>]*?\sheight="([\d.]+)"/;
const ROOT_TITLE = /^<svg\b[^>]*>\s*<title>([^<]*)<\/title>/;

/** Width and height of the root <svg>; `what` names the document in the error. */
export function svgRootSize(document: string, where: string): { readonly width: number; readonly height: number } {
  const size = ROOT_SIZE.exec(document.trimStart());
  if (!size) throw figureInputError(`${where} is not an <svg> with width and height attributes`);
  return { width: Number(size[1]), height: Number(size[2]) };
}

/** The root's first-child <title> text, still XML-escaped as it stands in the markup (undefined without one). */
export function svgRootTitleMarkup(document: string): string | undefined {
  return ROOT_TITLE.exec(document.trimStart())?.[1];
}
