/**
 * Minimal, deterministic SVG markup construction. Attribute values are escaped; numeric attribute
 * values go through formatSvgNumber (two decimals, never NaN). Attributes are emitted in the order given.
 */

import { escapeXml } from "./escape-xml.ts";
import { formatSvgNumber } from "./number-format.ts";

export type SvgAttributeValue = string | number | undefined;
export type SvgAttributes = Readonly<Record<string, SvgAttributeValue>>;

/** An element; `children` are already-built markup strings. Empty children give a self-closing tag. */
export function svgElement(name: string, attributes: SvgAttributes, ...children: string[]): string {
  const open = `<${name}${formatAttributes(attributes)}`;
  const content = children.join("");
  return content === "" ? `${open}/>` : `${open}>${content}</${name}>`;
}

/** A `<title>` child: the tooltip browsers show on hover. */
export function svgTitle(text: string): string {
  return `<title>${escapeXml(text)}</title>`;
}

/** A `<text>` element holding `text` (escaped), with an optional tooltip. */
export function svgText(attributes: SvgAttributes, text: string, tooltip?: string): string {
  return svgElement("text", attributes, escapeXml(text), tooltip === undefined ? "" : svgTitle(tooltip));
}

/** A group of already-built children; nothing at all when there are no children. */
export function svgGroup(attributes: SvgAttributes, children: readonly string[]): string {
  return children.length === 0 ? "" : svgElement("g", attributes, ...children);
}

/** `translate(x y)` / `rotate(a x y)` helpers for the transform attribute. */
export function rotateAbout(degrees: number, x: number, y: number): string {
  return `rotate(${formatSvgNumber(degrees)} ${formatSvgNumber(x)} ${formatSvgNumber(y)})`;
}

function formatAttributes(attributes: SvgAttributes): string {
  let out = "";
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    const text = typeof value === "number" ? formatSvgNumber(value) : escapeXml(value);
    out += ` ${key}="${text}"`;
  }
  return out;
}
