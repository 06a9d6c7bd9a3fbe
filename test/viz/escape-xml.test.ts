import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeXml, replaceForbiddenXmlCharacters } from "../../src/viz/escape-xml.ts";
import { parseXml, textContent } from "./xml-well-formedness.ts";

describe("escapeXml", () => {
  it("escapes the markup characters", () => {
    expect(escapeXml(`<a href="x">&'`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  });

  it("replaces characters XML forbids and lone surrogates, keeps valid pairs", () => {
    expect(escapeXml("a\u0000b\u001Fc")).toBe("a\uFFFDb\uFFFDc");
    expect(escapeXml("x\uD800y")).toBe("x\uFFFDy");
    expect(escapeXml("\uDC00")).toBe("\uFFFD");
    expect(escapeXml("😀 tab\tnl\n")).toBe("😀 tab\tnl\n");
  });

  it("round-trips any string through text content and attributes (modulo forbidden characters)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        const root = parseXml(`<a t="${escapeXml(text)}" u='${escapeXml(text)}'>${escapeXml(text)}</a>`);
        const expected = replaceForbiddenXmlCharacters(text);
        expect(textContent(root)).toBe(expected);
        expect(root.attributes.get("t")).toBe(expected);
        expect(root.attributes.get("u")).toBe(expected);
      }),
    );
  });
});
