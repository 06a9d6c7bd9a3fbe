import { describe, expect, it } from "vitest";
import { parseXml, textContent } from "./xml-well-formedness.ts";

describe("parseXml (test helper)", () => {
  it("accepts well-formed markup and decodes entities", () => {
    const root = parseXml('<a x="1 &amp; 2"><b/>t &lt;&#65;&#x42;<!-- c --></a>');
    expect(root.attributes.get("x")).toBe("1 & 2");
    expect(textContent(root)).toBe("t <AB");
  });

  it.each([
    ["<a><b></a></b>", "mismatched"],
    ["<a>", "unclosed"],
    ["<a/><b/>", "two roots"],
    ['<a x="1" x="2"/>', "duplicate attribute"],
    ["<a x=1/>", "unquoted attribute"],
    ["<a>&</a>", "stray ampersand"],
    ["<a>&nbsp;</a>", "unknown entity"],
    ['<a x="<"/>', "raw < in attribute"],
    ["<a>\u0001</a>", "forbidden character"],
    ["<a>x < y</a>", "raw < in text"],
  ])("rejects %s (%s)", (source) => {
    expect(() => parseXml(source)).toThrow();
  });
});
