import { describe, expect, it } from "vitest";
import { scatterChart } from "../../src/viz/scatter-chart.ts";
import { expectBadFigureInput } from "./expect-bad-figure-input.ts";
import { expectValidSvg } from "./svg-assertions.ts";
import { findElements, textContent, tooltipsOf } from "./xml-well-formedness.ts";

const yy = Array.from({ length: 97 }, (_, i) => i + 2);
const input = {
  title: "PCA of YY embeddings",
  x: yy.map((y) => Math.cos(y / 15)),
  y: yy.map((y) => Math.sin(y / 15)),
  colorValues: yy,
  colorLabel: "YY",
  pointLabels: yy.map((y) => `YY ${y}`),
  xLabel: "PC1",
  yLabel: "PC2",
};

describe("scatterChart", () => {
  it("draws one point per input with its label and coordinates (four significant digits), coloured by value, with a colour bar", () => {
    const root = expectValidSvg(scatterChart(input));
    const tips = tooltipsOf(root, "circle");
    expect(tips).toHaveLength(97);
    // cos(2/15) = 0.991124…, sin(2/15) = 0.132939…
    expect(tips[0]).toBe("YY 2: PC1 = 0.9911, PC2 = 0.1329, YY = 2");
    const fills = new Set(findElements(root, "circle").map((c) => c.attributes.get("fill")));
    expect(fills.size).toBeGreaterThan(20);
    const texts = findElements(root, "text").map(textContent);
    for (const label of ["PC1", "PC2", "YY"]) expect(texts).toContain(label);
  });

  it("draws points in one colour without colour values", () => {
    const root = expectValidSvg(scatterChart({ title: "t", x: [0, 1, 1], y: [1, 1, 1], xLabel: "", yLabel: "" }));
    expect(new Set(findElements(root, "circle").map((c) => c.attributes.get("fill"))).size).toBe(1);
  });

  it("with identityLine, both axes share one range and a dashed line runs from its lower-left to its upper-right corner", () => {
    const svg = scatterChart({ title: "t", x: [0, 1, 2], y: [-3, 0.5, 8], xLabel: "exact", yLabel: "estimate", identityLine: true });
    const root = expectValidSvg(svg);
    const lines = findElements(root, "line").filter((l) => l.attributes.get("stroke-dasharray") !== undefined);
    expect(lines).toHaveLength(1);
    const [x1, y1, x2, y2] = ["x1", "y1", "x2", "y2"].map((a) => Number(lines[0]!.attributes.get(a)));
    expect(x1).toBe(0);
    expect(y2).toBe(0);
    expect(x2).toBeGreaterThan(0);
    expect(y1).toBeGreaterThan(0);
    expect(tooltipsOf(root, "line")).toContain("y = x");
    // the shared range covers y's [-3, 8], so x ticks reach past x's own extent [0, 2]
    const texts = findElements(root, "text").map(textContent);
    expect(texts.filter((t) => t === "8" || t === "10").length).toBeGreaterThanOrEqual(2);
    expect(scatterChart({ title: "t", x: [0, 1], y: [0, 1], xLabel: "", yLabel: "" })).not.toContain("stroke-dasharray");
  });

  it("names the bad field", () => {
    expectBadFigureInput(() => scatterChart({ ...input, identityLine: "yes" as never }), /identityLine must be true or false, got "yes"/);
    expectBadFigureInput(() => scatterChart({ ...input, y: input.y.slice(1) }), /y has 96 entries but x has 97/);
    expectBadFigureInput(() => scatterChart({ ...input, x: [NaN, ...input.x.slice(1)] }), /x\[0\] must be a finite number/);
    expectBadFigureInput(() => scatterChart({ ...input, colorValues: undefined }), /colorLabel is given but colorValues is not/);
  });
});
