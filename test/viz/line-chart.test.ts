import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lineChart, type LineChartInput } from "../../src/viz/line-chart.ts";
import { expectBadFigureInput } from "./expect-bad-figure-input.ts";
import { expectValidSvg } from "./svg-assertions.ts";
import { findElements, textContent, tooltipsOf } from "./xml-well-formedness.ts";

const years = Array.from({ length: 100 }, (_, i) => i);
const logitLens: LineChartInput = {
  title: "Logit lens of MLP outputs",
  x: years,
  series: Array.from({ length: 12 }, (_, layer) => ({
    name: `MLP ${layer}`,
    values: years.map((y) => (layer - 6) * Math.tanh((y - 41) / 8)),
  })),
  xLabel: "year",
  yLabel: "logit",
  verticalMarker: 41,
};

describe("lineChart", () => {
  it("draws one path per series, a legend entry each, hover targets with values to four significant digits and the marker", () => {
    const root = expectValidSvg(lineChart(logitLens));
    expect(tooltipsOf(root, "path")).toEqual(logitLens.series.map((s) => s.name));
    const texts = findElements(root, "text").map(textContent);
    for (const name of ["MLP 0", "MLP 11", "year", "logit", "year = 41"]) expect(texts).toContain(name);
    const hover = tooltipsOf(root, "circle");
    expect(hover).toHaveLength(12 * 100);
    expect(hover).toContain("MLP 0: year = 41, logit = 0");
    // 5 tanh(58 / 8) = 4.999995 shows as 5.
    expect(hover).toContain("MLP 11: year = 99, logit = 5");
    expect(tooltipsOf(root, "line")).toContain("year = 41");
    // Series past the 10-colour palette are dashed.
    const dashes = findElements(root, "path").map((p) => p.attributes.get("stroke-dasharray"));
    expect(dashes.slice(0, 10).every((d) => d === undefined)).toBe(true);
    expect(dashes.slice(10).every((d) => d !== undefined)).toBe(true);
  });

  it("leaves gaps at NaN/±Infinity/null instead of drawing through them", () => {
    const svg = lineChart({
      title: "gaps",
      x: [0, 1, 2, 3, 4, 5],
      series: [{ name: "s", values: [1, 2, NaN, 3, Infinity, null] }],
      xLabel: "x",
      yLabel: "y",
    });
    const root = expectValidSvg(svg);
    const d = findElements(root, "path")[0].attributes.get("d") ?? "";
    expect(d.match(/M/g)).toHaveLength(2);
    expect(d.match(/L/g)).toHaveLength(1);
    // The isolated point at x = 3 is shown as a dot.
    expect(findElements(root, "circle").filter((c) => c.attributes.get("fill") !== undefined)).toHaveLength(1);
  });

  it("handles a series that is entirely missing or constant", () => {
    expectValidSvg(lineChart({ title: "t", x: [1, 2], series: [{ name: "a", values: [null, NaN] }], xLabel: "", yLabel: "" }));
    expectValidSvg(lineChart({ title: "t", x: [5], series: [{ name: "a", values: [3] }], xLabel: "x", yLabel: "y" }));
  });

  it("is deterministic and escapes names", () => {
    const input = { ...logitLens, series: [{ name: `<layer & "0">`, values: years }] };
    const svg = lineChart(input);
    expect(svg).toBe(lineChart(input));
    expect(findElements(expectValidSvg(svg), "text").map(textContent)).toContain(`<layer & "0">`);
  });

  it("renders arbitrary data as valid SVG", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }).chain((n) =>
          fc.record({
            x: fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n }),
            series: fc.array(
              fc.record({
                name: fc.string({ unit: "binary" }),
                values: fc.array(fc.oneof(fc.double(), fc.constant(null)), { minLength: n, maxLength: n }),
              }),
              { minLength: 1, maxLength: 14 },
            ),
            marker: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: undefined }),
          }),
        ),
        ({ x, series, marker }) => {
          expectValidSvg(lineChart({ title: "t", x, series, xLabel: "x", yLabel: "y", verticalMarker: marker }));
        },
      ),
      { numRuns: 150 },
    );
  });

  describe("rejects bad input with bad_figure_input naming the field", () => {
    it("empty x", () => expectBadFigureInput(() => lineChart({ ...logitLens, x: [], series: [] }), /x is empty/));
    it("no series", () => expectBadFigureInput(() => lineChart({ ...logitLens, series: [] }), /series is empty/));
    it("series length mismatch", () =>
      expectBadFigureInput(
        () => lineChart({ ...logitLens, series: [logitLens.series[0], { name: "short", values: [1] }] }),
        /series\[1\]\.values \("short"\) has 1 entries but x has 100/,
      ));
    it("non-finite x", () => expectBadFigureInput(() => lineChart({ ...logitLens, x: years.map((y) => (y === 7 ? NaN : y)) }), /x\[7\]/));
    it("non-finite marker", () => expectBadFigureInput(() => lineChart({ ...logitLens, verticalMarker: Infinity }), /verticalMarker/));
  });
});
