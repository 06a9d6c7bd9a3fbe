/** Shared checks every generated SVG must pass: well-formed, explicit size, finite numeric attributes. */

import { expect } from "vitest";
import { allAttributes, parseXml, type XmlElement } from "./xml-well-formedness.ts";

const NUMERIC_ATTRIBUTES = new Set([
  "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height", "font-size", "stroke-width", "fill-opacity",
]);

/** Parse `svg`, assert the document-level invariants, and return the tree. */
export function expectValidSvg(svg: string): XmlElement {
  const root = parseXml(svg);
  expect(root.name).toBe("svg");
  expect(root.attributes.get("xmlns")).toBe("http://www.w3.org/2000/svg");
  const width = Number(root.attributes.get("width"));
  const height = Number(root.attributes.get("height"));
  expect(width).toBeGreaterThan(0);
  expect(height).toBeGreaterThan(0);
  expect(root.attributes.get("viewBox")).toBe(`0 0 ${width} ${height}`);
  for (const { element, name, value } of allAttributes(root)) {
    expect(value, `${element}@${name}`).not.toMatch(/NaN|Infinity|undefined/);
    if (NUMERIC_ATTRIBUTES.has(name)) {
      expect(Number.isFinite(Number(value)), `${element}@${name}="${value}"`).toBe(true);
      if (name === "width" || name === "height" || name === "r") expect(Number(value)).toBeGreaterThanOrEqual(0);
    }
    if (name === "transform" || name === "d" || name === "viewBox") {
      expect(value, `${element}@${name}`).toMatch(/^[-0-9. A-Za-z(),]*$/);
    }
  }
  return root;
}
