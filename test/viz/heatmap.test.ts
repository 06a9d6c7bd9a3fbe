import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { heatmap, type HeatmapInput } from "../../src/viz/heatmap.ts";
import { expectBadFigureInput } from "./expect-bad-figure-input.ts";
import { expectValidSvg } from "./svg-assertions.ts";
import { findElements, textContent, tooltipsOf } from "./xml-well-formedness.ts";

const two = (n: number) => String(n).padStart(2, "0");

function probabilityHeatmapInput(): HeatmapInput {
  const rowLabels = Array.from({ length: 97 }, (_, i) => two(i + 2));
  const colLabels = Array.from({ length: 100 }, (_, i) => two(i));
  const values = rowLabels.map((_, r) => colLabels.map((_, c) => (c > r + 2 ? 1 / (1 + c - r) : 0)));
  return {
    title: "P(year | YY)",
    values,
    rowLabels,
    colLabels,
    xLabel: "predicted year",
    yLabel: "YY",
    colorScale: "sequential",
    valueLabel: "probability",
    caption: "Probability of each predicted year.",
  };
}

function pathPatchingInput(values: (number | null)[][]): HeatmapInput {
  return {
    title: "Path patching",
    values,
    rowLabels: values.map((_, l) => `L${l}`),
    colLabels: [...Array.from({ length: 12 }, (_, h) => `H${h}`), "MLP"],
    xLabel: "head",
    yLabel: "layer",
    colorScale: "diverging",
  };
}

const grid12x13 = (fill: (l: number, h: number) => number | null) =>
  Array.from({ length: 12 }, (_, l) => Array.from({ length: 13 }, (_, h) => fill(l, h)));

describe("heatmap", () => {
  it("renders the 97×100 probability heatmap with a tooltip per cell and thinned tick labels", () => {
    const root = expectValidSvg(heatmap(probabilityHeatmapInput()));
    const tooltips = tooltipsOf(root, "rect").filter((t) => t.startsWith("YY "));
    expect(tooltips).toHaveLength(97 * 100);
    expect(tooltipsOf(root, "rect")).toContain("colour range: 0 to 0.25");
    expect(tooltips).toContain("YY 02, predicted year 09: 0.1");
    const texts = findElements(root, "text").map(textContent);
    expect(texts).toContain("predicted year");
    expect(texts).toContain("YY");
    expect(texts).toContain("probability");
    // Crowded axes: only every k-th label is drawn (k ≥ 5), always starting at the first.
    const colTicks = texts.filter((t) => /^\d\d$/.test(t));
    expect(colTicks.length).toBeLessThan(60);
    expect(colTicks).toContain("00");
  });

  it("labels every column of a 12×13 path-patching grid and centres the diverging scale on white", () => {
    const root = expectValidSvg(heatmap(pathPatchingInput(grid12x13((l, h) => (l + h) % 3 - 1)))); // -1, 0, 1
    const texts = findElements(root, "text").map(textContent);
    for (const label of ["H0", "H5", "H11", "MLP", "L0", "L11"]) expect(texts).toContain(label);
    const zeroCell = findElements(root, "rect").find((r) => textContent(r).endsWith(": 0"));
    expect(zeroCell?.attributes.get("fill")).toBe("#ffffff");
    const fills = new Set(findElements(root, "rect").filter((r) => textContent(r).endsWith(": 1")).map((r) => r.attributes.get("fill")));
    expect(fills).toEqual(new Set(["#b2182b"]));
  });

  it("draws null, NaN and ±Infinity as hatched n/a cells without leaking NaN into attributes", () => {
    const weird = [null, NaN, Infinity, -Infinity];
    const svg = heatmap(pathPatchingInput(grid12x13((l, h) => (l === h ? weird[l % 4] : 0.1 * (h - 6)))));
    const root = expectValidSvg(svg);
    const tooltips = tooltipsOf(root, "g");
    expect(tooltips).toContain("layer L0, head H0: n/a");
    expect(tooltips).toContain("layer L1, head H1: n/a (NaN)");
    expect(tooltips).toContain("layer L2, head H2: n/a (+Infinity)");
    expect(findElements(root, "text").map(textContent)).toContain("n/a");
  });

  it("draws skipped cells pale with a dot, apart from the hatched n/a cells, with their label in tooltip and legend", () => {
    const values = grid12x13((l, h) => (l === 0 && h === 0 ? null : l === 1 && h < 3 ? null : 0.1 * (h - 6)));
    const cells = values.map((row, l) => row.map((_, h) => l === 1 && h < 3));
    const root = expectValidSvg(heatmap({ ...pathPatchingInput(values), skipped: { label: "not computed", cells } }));
    const tooltips = tooltipsOf(root, "g");
    expect(tooltips).toContain("layer L0, head H0: n/a");
    for (const h of [0, 1, 2]) expect(tooltips).toContain(`layer L1, head H${h}: not computed`);
    // One dot per skipped cell plus the legend's swatch; one hatch line per n/a cell plus its swatch.
    expect(findElements(root, "circle")).toHaveLength(3 + 1);
    expect(findElements(root, "line").filter((l) => l.attributes.get("stroke") === "#8c8c8c")).toHaveLength(1 + 1);
    const texts = findElements(root, "text").map(textContent);
    expect(texts).toContain("not computed");
    expect(texts).toContain("n/a");
    expectBadFigureInput(
      () => heatmap({ ...pathPatchingInput(grid12x13(() => 0.5)), skipped: { label: "not computed", cells } }),
      /skipped cell \[1\]\[0\] must have the value null; got 0.5/,
    );
    expectBadFigureInput(() => heatmap({ ...pathPatchingInput(values), skipped: { label: "not computed", cells: cells.slice(1) } }), /skipped.cells has 11 entries/);
  });

  it("uses an explicit range, clamping colours outside it", () => {
    const svg = heatmap({ ...pathPatchingInput(grid12x13(() => 5)), range: [-1, 1] });
    const root = expectValidSvg(svg);
    expect(new Set(findElements(root, "rect").filter((r) => textContent(r).endsWith(": 5")).map((r) => r.attributes.get("fill")))).toEqual(
      new Set(["#b2182b"]),
    );
  });

  it("is deterministic", () => {
    expect(heatmap(probabilityHeatmapInput())).toBe(heatmap(probabilityHeatmapInput()));
  });

  it("escapes markup characters in every label", () => {
    const nasty = `<b>&"x"'`;
    const svg = heatmap({
      ...pathPatchingInput([[1, 2]]),
      title: nasty,
      rowLabels: [nasty],
      colLabels: [nasty, "ok"],
      xLabel: nasty,
      yLabel: nasty,
      valueLabel: nasty,
      caption: nasty,
    });
    expect(svg).not.toContain("<b>");
    const root = expectValidSvg(svg);
    expect(findElements(root, "text").map(textContent).filter((t) => t === nasty).length).toBeGreaterThanOrEqual(5);
    expect(tooltipsOf(root, "rect")[0]).toBe(`${nasty} ${nasty}, ${nasty} ${nasty}: 1`);
  });

  it("renders any small matrix of arbitrary numbers and labels as valid SVG", () => {
    const cell = fc.oneof(fc.double(), fc.constant(null));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((cols) =>
          fc.record({
            values: fc.array(fc.array(cell, { minLength: cols, maxLength: cols }), { minLength: 1, maxLength: 6 }),
            colLabels: fc.array(fc.string({ unit: "binary" }), { minLength: cols, maxLength: cols }),
            label: fc.string({ unit: "binary" }),
            diverging: fc.boolean(),
          }),
        ),
        ({ values, colLabels, label, diverging }) => {
          expectValidSvg(
            heatmap({
              title: label,
              values,
              rowLabels: values.map(() => label),
              colLabels,
              xLabel: label,
              yLabel: "",
              colorScale: diverging ? "diverging" : "sequential",
            }),
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  describe("rejects bad input with bad_figure_input naming the field", () => {
    const base = pathPatchingInput(grid12x13(() => 0));
    it("empty values", () => expectBadFigureInput(() => heatmap({ ...base, values: [], rowLabels: [] }), /values is empty/));
    it("empty columns", () => expectBadFigureInput(() => heatmap({ ...base, values: [[]], rowLabels: ["a"], colLabels: [] }), /colLabels is empty/));
    it("rowLabels length", () => expectBadFigureInput(() => heatmap({ ...base, rowLabels: ["L0"] }), /rowLabels has 1 entries/));
    it("ragged row", () => {
      const values = grid12x13(() => 0);
      values[4] = values[4].slice(1);
      expectBadFigureInput(() => heatmap({ ...base, values }), /values\[4\] has 12 entries but colLabels has 13/);
    });
    it("bad range", () => expectBadFigureInput(() => heatmap({ ...base, range: [1, 1] }), /range/));
    it("non-finite range", () => expectBadFigureInput(() => heatmap({ ...base, range: [0, NaN] }), /range/));
    it("unknown colour scale", () =>
      expectBadFigureInput(() => heatmap({ ...base, colorScale: "rainbow" as unknown as "diverging" }), /colorScale/));
  });
});
