/** The report's reading aids: captioned SVG files, clipped and shared colour scales, the circuit diagram, sections. */
import { describe, expect, it } from "vitest";
import { barChart } from "../../src/viz/bar-chart.ts";
import { circuitDiagram, type CircuitDiagramInput } from "../../src/viz/circuit-diagram.ts";
import { clippedProbabilityRange, sharedSymmetricRange } from "../../src/viz/color-ranges.ts";
import { Figure } from "../../src/viz/figure.ts";
import { heatmap } from "../../src/viz/heatmap.ts";
import { noteFigure } from "../../src/viz/note-figure.ts";
import { renderReportHtml } from "../../src/viz/report-html.ts";
import { expectBadFigureInput } from "./expect-bad-figure-input.ts";
import { expectValidSvg } from "./svg-assertions.ts";
import { findElements, parseXml, textContent, tooltipsOf, type XmlElement } from "./xml-well-formedness.ts";

const bars = new Figure({
  name: "pd-bars",
  svg: barChart({ title: "PD <model>", labels: ["model", "circuit"], values: [0.8, 0.7] }),
  caption: "The model's PD & the circuit's, side by side, with a caption long enough to wrap onto a second line of the file.",
});

describe("Figure.standaloneSvg", () => {
  it("is the chart with its caption below it (visible and in <desc>) and the chart's title", () => {
    const root = expectValidSvg(bars.standaloneSvg);
    const chartHeight = Number(parseXml(bars.svg).attributes.get("height"));
    expect(Number(root.attributes.get("height"))).toBeGreaterThan(chartHeight + 20);
    expect(textContent(findElements(root, "title")[0]!)).toBe("PD <model>");
    expect(textContent(findElements(root, "desc")[0]!)).toBe(bars.caption);
    const captionLines = findElements(root, "g").filter((g) => g.attributes.get("class") === "caption").flatMap((g) => findElements(g, "text"));
    expect(captionLines.length).toBeGreaterThanOrEqual(2);
    expect(captionLines.map(textContent).join(" ")).toBe(bars.caption);
    for (const line of captionLines) expect(Number(line.attributes.get("y"))).toBeGreaterThan(chartHeight);
    expect(bars.standaloneSvg).toContain(bars.svg.replace(/^<svg\b/, '<svg x="0" y="0"'));
  });

  it("keeps a note figure as it is: its SVG already says why it is empty", () => {
    const note = noteFigure("no-sender", "Senders → heads", "Nothing is upstream of the heads.");
    expect(note.note).toBe(true);
    expect(note.standaloneSvg).toBe(note.svg);
    expect(note.svg).toContain("Nothing is upstream of the heads.");
  });
});

describe("colour ranges", () => {
  it("clips a probability scale at the 99th percentile, so one large cell does not wash out the rest", () => {
    const grid = Array.from({ length: 10 }, (_, r) => Array.from({ length: 10 }, (_, c) => (r * 10 + c) / 1000));
    grid[9]![9] = 0.98;
    // 100 cells: sorted index floor(0.99 · 100) = 99 is the largest, 0.98.
    expect(clippedProbabilityRange(grid)).toEqual([0, 0.98]);
    const many = Array.from({ length: 20 }, (_, r) => Array.from({ length: 10 }, (_, c) => (r * 10 + c) / 1000));
    many[0]![0] = 0.98;
    // 200 cells: the value at sorted index 198 is 0.199 (the second largest after 0.98 moved into cell 0).
    expect(clippedProbabilityRange(many)).toEqual([0, 0.199]);
    expect(clippedProbabilityRange([[0, 0]])).toEqual([0, 1]);
  });

  it("shares one symmetric range across grids, ignoring missing cells", () => {
    expect(sharedSymmetricRange([[[0.1, null]], [[-0.4, 0.2]], [[null]]])).toEqual([-0.4, 0.4]);
    expect(sharedSymmetricRange([[[null]]])).toEqual([-1, 1]);
  });

  it("marks a clipped heatmap in its colour bar, and only then", () => {
    const input = { title: "p", values: [[0.01, 0.02], [0.03, 0.9]], rowLabels: ["a", "b"], colLabels: ["x", "y"], xLabel: "x", yLabel: "y", colorScale: "sequential" as const };
    const clipped = expectValidSvg(heatmap({ ...input, range: [0, 0.05] }));
    expect(findElements(clipped, "text").map(textContent)).toContain("> 0.05 (clipped)");
    expect(tooltipsOf(clipped, "path")).toContain("values above 0.05 are drawn in this colour");
    const whole = expectValidSvg(heatmap(input));
    expect(findElements(whole, "text").map(textContent).some((t) => t.includes("clipped"))).toBe(false);
  });

  it("names missing cells as told", () => {
    const root = expectValidSvg(heatmap({ title: "g", values: [[null, 1]], rowLabels: ["L0"], colLabels: ["H0", "MLP"], xLabel: "s", yLabel: "l", colorScale: "diverging", missingLabel: "not upstream" }));
    expect(findElements(root, "text").map(textContent)).toContain("not upstream");
  });
});

const diagram: CircuitDiagramInput = {
  title: "A circuit",
  columns: ["at YY", "at END"],
  rows: ["embedding", "layer 0 attn", "layer 1 MLP", "unembedding"],
  nodes: [
    { id: "embed", label: "embed", kind: "io", column: 0, row: 0 },
    { id: "h", label: "L0H1", kind: "head", column: 1, row: 1 },
    { id: "m", label: "MLP1", kind: "mlp", column: 1, row: 2 },
    { id: "logits", label: "logits", kind: "io", column: 1, row: 3 },
  ],
  edges: [
    { from: "embed", to: "h", value: -0.6, tooltip: "embed → L0H1" },
    { from: "h", to: "m", value: 0.3, tooltip: "L0H1 → MLP1" },
    { from: "m", to: "logits", value: -0.01, tooltip: "MLP1 → logits" },
  ],
  valueLabel: "Δ PD",
};

describe("circuitDiagram", () => {
  it("draws each node, and each edge coloured by its sign with width ∝ |value| and the larger values printed", () => {
    const root = expectValidSvg(circuitDiagram(diagram));
    const texts = findElements(root, "text").map(textContent);
    for (const label of ["embed", "L0H1", "MLP1", "logits", "at YY", "at END", "layer 1 MLP", "-0.6", "0.3"]) expect(texts).toContain(label);
    expect(texts).not.toContain("-0.01"); // under 10 % of the strongest: tooltip only
    const paths = findElements(root, "path").filter((p) => p.attributes.get("stroke-opacity"));
    const byTip = new Map(paths.map((p) => [tooltipsOf(p, "path")[0]!, p]));
    const edge = (tip: string) => byTip.get(tip)!;
    expect(edge("embed → L0H1: Δ PD -0.6").attributes.get("stroke")).toBe("#2166ac");
    expect(edge("L0H1 → MLP1: Δ PD 0.3").attributes.get("stroke")).toBe("#b2182b");
    const width = (tip: string) => Number(edge(tip).attributes.get("stroke-width"));
    expect(width("embed → L0H1: Δ PD -0.6")).toBe(7);
    expect(width("L0H1 → MLP1: Δ PD 0.3")).toBeCloseTo(1 + 6 * 0.5, 2);
    expect(width("MLP1 → logits: Δ PD -0.01")).toBeCloseTo(1 + 6 * (0.01 / 0.6), 2);
    for (const legend of ["attention head", "MLP", "supports (Δ PD < 0)", "opposes (Δ PD > 0)"]) expect(texts).toContain(legend);
  });

  it("refuses edges to unknown nodes and nodes outside the grid", () => {
    expectBadFigureInput(() => circuitDiagram({ ...diagram, edges: [{ from: "h", to: "nowhere", value: 1, tooltip: "" }] }), /edges\[0\]\.to "nowhere" is not a node id/);
    expectBadFigureInput(() => circuitDiagram({ ...diagram, nodes: [{ id: "x", label: "x", kind: "mlp", column: 2, row: 0 }], edges: [] }), /nodes\[0\]\.column = 2/);
    expectBadFigureInput(() => circuitDiagram({ ...diagram, edges: [{ from: "h", to: "m", value: NaN, tooltip: "" }] }), /edges\[0\]\.value must be a finite number/);
  });
});

describe("renderReportHtml with a summary and sections", () => {
  const big = new Figure({
    name: "big-grid",
    svg: heatmap({ title: "big", values: Array.from({ length: 60 }, (_, r) => Array.from({ length: 60 }, (_, c) => r * c)), rowLabels: Array.from({ length: 60 }, String), colLabels: Array.from({ length: 60 }, String), xLabel: "x", yLabel: "y", colorScale: "sequential" }),
    caption: "A big grid",
  });
  const note = noteFigure("no-grid", "Nothing", "No sender: nothing is upstream.");
  const html = renderReportHtml({
    title: "Report",
    intro: "Intro.",
    summary: { id: "summary", heading: "Summary", tables: [{ caption: "Numbers", headers: ["metric", "value"], rows: [["PD", "0.9"]] }] },
    sections: [
      { id: "first", heading: "First part", intro: "About it.", figures: [bars, note] },
      { id: "second", heading: "Second part", figures: [big] },
    ],
    linkFiguresLongerThan: 50_000,
  });

  it("puts the summary first, then contents linking each section, numbering figures through the page", () => {
    const root = parseXml(html.slice("<!DOCTYPE html>".length));
    const order = findElements(root, "body")[0]!.children.filter((c): c is XmlElement => typeof c !== "string");
    expect(order.map((c) => c.attributes.get("id") ?? c.name)).toEqual(["h1", "p", "summary", "nav", "first", "second"]);
    expect(findElements(root, "a").filter((a) => a.attributes.get("href")?.startsWith("#")).map((a) => a.attributes.get("href"))).toEqual(["#first", "#second"]);
    expect(findElements(root, "figcaption").map((f) => textContent(f).split(".")[0])).toEqual(["Figure 1", "Figure 2", "Figure 3"]);
  });

  it("inlines small figures, shows large ones from their file cropped to the chart, and a note as a sentence", () => {
    expect(html).toContain(bars.svg);
    expect(html).not.toContain(big.svg);
    expect(big.svg.length).toBeGreaterThan(50_000);
    expect(html).toMatch(/<a class="chart-crop" href="big-grid\.svg" style="max-width: \d+px; aspect-ratio: \d+ \/ \d+"><img src="big-grid\.svg" width="\d+" height="\d+" alt="Figure: A big grid" \/><\/a>/);
    expect(html).toContain('<figure id="no-grid" class="note"><figcaption><strong>Figure 2.</strong> No sender: nothing is upstream.</figcaption></figure>');
  });

  it("refuses bad or repeated section ids", () => {
    expectBadFigureInput(() => renderReportHtml({ title: "t", intro: "", sections: [{ id: "1st", heading: "h" }] }), /sections\[0\]\.id "1st" must start with a letter/);
    expectBadFigureInput(() => renderReportHtml({ title: "t", intro: "", sections: [{ id: "a", heading: "h" }, { id: "a", heading: "h" }] }), /sections\[1\]\.id repeats "a"/);
    expectBadFigureInput(() => renderReportHtml({ title: "t", intro: "", sections: [{ id: "pd-bars", heading: "h", figures: [bars] }] }), /"pd-bars" is also a section id/);
  });
});
