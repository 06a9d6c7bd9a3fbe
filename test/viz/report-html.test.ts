import { describe, expect, it } from "vitest";
import { barChart } from "../../src/viz/bar-chart.ts";
import { Figure } from "../../src/viz/figure.ts";
import { heatmap } from "../../src/viz/heatmap.ts";
import { renderReportHtml, type ReportInput } from "../../src/viz/report-html.ts";
import { expectBadFigureInput } from "./expect-bad-figure-input.ts";
import { findElements, parseXml, textContent } from "./xml-well-formedness.ts";

const bars = new Figure({
  name: "pd-bars",
  svg: barChart({ title: "PD", labels: ["model", "circuit"], values: [0.8, 0.7] }),
  caption: "Model vs circuit <PD> & more",
});
const grid = new Figure({
  name: "path-patching",
  svg: heatmap({
    title: "grid",
    values: [[1, -1], [null, 0]],
    rowLabels: ["L0", "L1"],
    colLabels: ["H0", "MLP"],
    xLabel: "head",
    yLabel: "layer",
    colorScale: "diverging",
  }),
  caption: "Path patching",
});

const report: ReportInput = {
  title: `Greater-than <circuit> & "GPT-2"`,
  intro: "First paragraph.\n\nSecond <p> & paragraph.",
  figures: [bars, grid],
  tables: [{ caption: "Summary", headers: ["metric", "value"], rows: [["PD <model>", 0.817], ["CS", NaN]] }],
};

/** The page minus its doctype, parsed as XML (the markup is XHTML-compatible). */
function parsePage(html: string) {
  expect(html.startsWith("<!DOCTYPE html>\n")).toBe(true);
  return parseXml(html.slice("<!DOCTYPE html>".length));
}

describe("renderReportHtml", () => {
  it("produces a self-contained, well-formed page with inline SVG figures and captions", () => {
    const html = renderReportHtml(report);
    const root = parsePage(html);
    expect(root.name).toBe("html");
    expect(textContent(findElements(root, "title")[0])).toBe(report.title);
    expect(textContent(findElements(root, "h1")[0])).toBe(report.title);
    expect(findElements(root, "p").map(textContent)).toEqual(["First paragraph.", "Second <p> & paragraph."]);
    const figures = findElements(root, "figure");
    expect(figures.map((f) => f.attributes.get("id"))).toEqual(["pd-bars", "path-patching"]);
    expect(figures.map((f) => findElements(f, "svg").length)).toEqual([1, 1]);
    expect(findElements(root, "figcaption").map(textContent)).toEqual([
      "Figure 1. Model vs circuit <PD> & more",
      "Figure 2. Path patching",
    ]);
    expect(html).toContain(bars.svg);
    expect(html).not.toMatch(/<(img|script|link)\b/);
  });

  it("renders tables with escaped cells and right-aligned numbers", () => {
    const root = parsePage(renderReportHtml(report));
    expect(findElements(root, "th").map(textContent)).toEqual(["metric", "value"]);
    const cells = findElements(root, "td");
    expect(cells.map(textContent)).toEqual(["PD <model>", "0.817", "CS", "n/a (NaN)"]);
    expect(cells[1].attributes.get("class")).toBe("number");
  });

  it("is deterministic", () => {
    expect(renderReportHtml(report)).toBe(renderReportHtml(report));
  });

  it("works with no figures or tables", () => {
    parsePage(renderReportHtml({ title: "", intro: "", figures: [] }));
  });

  describe("rejects bad input with bad_figure_input naming the field", () => {
    it("duplicate figure names", () =>
      expectBadFigureInput(() => renderReportHtml({ ...report, figures: [bars, bars] }), /figures\[1\] repeats the name "pd-bars"/));
    it("row length mismatch", () =>
      expectBadFigureInput(
        () => renderReportHtml({ ...report, tables: [{ caption: "c", headers: ["a", "b"], rows: [["x", 1], ["y"]] }] }),
        /tables\[0\]\.rows\[1\] has 1 entries but tables\[0\]\.headers has 2/,
      ));
    it("empty headers", () =>
      expectBadFigureInput(() => renderReportHtml({ ...report, tables: [{ caption: "c", headers: [], rows: [] }] }), /tables\[0\]\.headers is empty/));
  });
});
