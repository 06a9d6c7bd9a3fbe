import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { barChart, type BarChartInput } from "../../src/viz/bar-chart.ts";
import { ACCENT_FILL, BAR_FILL } from "../../src/viz/color-scales.ts";
import { expectBadFigureInput } from "./expect-bad-figure-input.ts";
import { expectValidSvg } from "./svg-assertions.ts";
import { findElements, textContent, tooltipsOf } from "./xml-well-formedness.ts";

const neurons: BarChartInput = {
  title: "Top neurons of MLP 10",
  labels: ["N5", "N1337", "N42", "N900"],
  values: [0.31, -0.05, 0.15, 0.11],
  xLabel: "neuron",
  yLabel: "Δ PD",
  highlight: [0, 2],
};

describe("barChart", () => {
  it("draws one bar per value with exact tooltips and the accent colour on highlighted bars", () => {
    const root = expectValidSvg(barChart(neurons));
    const bars = findElements(root, "rect").filter((r) => r.children.some((c) => typeof c !== "string" && c.name === "title"));
    expect(bars.map(textContent)).toEqual(["N5: 0.31", "N1337: -0.05", "N42: 0.15", "N900: 0.11"]);
    expect(bars.map((b) => b.attributes.get("fill"))).toEqual([ACCENT_FILL, BAR_FILL, ACCENT_FILL, BAR_FILL]);
    const texts = findElements(root, "text").map(textContent);
    for (const t of ["neuron", "Δ PD", "N1337", "highlighted", "other"]) expect(texts).toContain(t);
    // The negative bar hangs below the zero line, the positive ones stand on it.
    const [pos, neg] = bars;
    const posBottom = Number(pos.attributes.get("y")) + Number(pos.attributes.get("height"));
    expect(Number(neg.attributes.get("y"))).toBeCloseTo(posBottom, 1);
  });

  it("draws horizontally with category labels on the left", () => {
    const root = expectValidSvg(barChart({ ...neurons, horizontal: true, highlightLabel: "in circuit" }));
    const bars = findElements(root, "rect").filter((r) => textContent(r).includes(": "));
    expect(bars).toHaveLength(4);
    expect(findElements(root, "text").map(textContent)).toContain("in circuit");
    const labels = findElements(root, "text").filter((t) => textContent(t) === "N42");
    expect(labels[0].attributes.get("text-anchor")).toBe("end");
  });

  it("omits the legend without highlights", () => {
    const root = expectValidSvg(barChart({ title: "PD", labels: ["model", "circuit"], values: [0.8, 0.7] }));
    expect(findElements(root, "text").map(textContent)).not.toContain("highlighted");
  });

  it("shows n/a for NaN, ±Infinity and null instead of a bar", () => {
    const svg = barChart({ title: "t", labels: ["a", "b", "c", "d"], values: [NaN, Infinity, null, -Infinity] });
    const root = expectValidSvg(svg);
    expect(tooltipsOf(root, "text")).toEqual(["a: n/a (NaN)", "b: n/a (+Infinity)", "c: n/a", "d: n/a (-Infinity)"]);
  });

  it("is deterministic and escapes labels", () => {
    const input = { ...neurons, labels: ["<a>", "&", '"q"', "it's"], title: "<&>" };
    const svg = barChart(input);
    expect(svg).toBe(barChart(input));
    const root = expectValidSvg(svg);
    expect(tooltipsOf(root, "rect").slice(0, 4)).toEqual(["<a>: 0.31", "&: -0.05", '"q": 0.15', "it's: 0.11"]);
  });

  it("renders arbitrary values and labels as valid SVG", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ unit: "binary" }), fc.oneof(fc.double(), fc.constant(null))), { minLength: 1, maxLength: 30 }),
        fc.boolean(),
        (pairs, horizontal) => {
          expectValidSvg(
            barChart({ title: "t", labels: pairs.map((p) => p[0]), values: pairs.map((p) => p[1]), horizontal, highlight: [0] }),
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  describe("rejects bad input with bad_figure_input naming the field", () => {
    it("empty labels", () => expectBadFigureInput(() => barChart({ title: "t", labels: [], values: [] }), /labels is empty/));
    it("length mismatch", () =>
      expectBadFigureInput(() => barChart({ title: "t", labels: ["a", "b"], values: [1] }), /values has 1 entries but labels has 2/));
    it("highlight out of range", () =>
      expectBadFigureInput(() => barChart({ ...neurons, highlight: [4] }), /highlight\[0\] = 4/));
    it("non-integer highlight", () =>
      expectBadFigureInput(() => barChart({ ...neurons, highlight: [1, 0.5] }), /highlight\[1\]/));
  });
});
