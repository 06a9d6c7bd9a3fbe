import { describe, expect, it } from "vitest";
import type { GreaterThanCircuitReport } from "../../src/tasks/greater-than/pipeline.ts";
import { circuitEvaluationFigures, circuitEvaluationTables } from "../../src/viz/circuit-evaluation-figures.ts";
import { sideBySide } from "../../src/viz/side-by-side.ts";
import { parseXml } from "./xml-well-formedness.ts";

const heat = (rows: number) => Array.from({ length: rows }, (_, r) => Array.from({ length: 100 }, (_, y) => (y > r ? 0.02 : 0.001)));
const entry = (pd: number) => ({ rule: "a rule", prob_diff: pd, cutoff_sharpness: 0.01, fraction_of_baseline: pd / 0.9, recovered: 0.5, mean_probability: heat(3) });
const grid = (filled: boolean) => ({
  receivers: ["L1H0.k"], continuation: ["blocks.1.mlp"], embed: -0.2,
  grid: [[filled ? -0.1 : null, filled ? "not computed" : null, null], [null, null, null]],
});

function report(filled: boolean, mlpsAtYy: boolean): GreaterThanCircuitReport {
  return {
    model: { n_layers: 2, n_heads: 2, d_model: 8, d_mlp: 32 },
    baseline: { prob_diff: 0.9, cutoff_sharpness: 0.03, corrupted_prob_diff: 0.1 },
    probability_heatmap: { yy: [2, 50, 98], mean_probability: heat(3) },
    head_input_patching: [{ channel: "kv", sender_position: 8, embed: -0.3, receivers: [], continuation: [], grid: [] }],
    circuit_evaluation: {
      source: "given", heads: ["L1H0"], mlps: ["MLP1"], lower: ["embed@YY"], yy: [2, 50, 98],
      paper: entry(0.8), paper_reverse: entry(0.2), full_circuit: entry(0.7), upper_and_lower: null,
    },
    lower_circuit: {
      note: filled ? null : "Nothing at YY is upstream.", kv_threshold: 0.1,
      k: grid(filled), v: grid(filled), nodes: ["embed@YY"],
      mlps_at_yy: mlpsAtYy ? [{ ...grid(true), receivers: ["MLP0.in"] }] : [],
    },
  } as unknown as GreaterThanCircuitReport;
}

describe("circuit evaluation figures", () => {
  it("bars, one side-by-side heatmap per evaluation present, k and v grids when they have cells", () => {
    const figures = circuitEvaluationFigures(report(true, true));
    expect(figures.map((f) => f.name)).toEqual([
      "circuit-evaluations", "circuit-heatmap-paper", "circuit-heatmap-paper-reverse", "circuit-heatmap-full-circuit",
      "lower-circuit-k", "lower-circuit-v", "lower-circuit-MLP0",
    ]);
    for (const figure of figures) expect(() => parseXml(figure.svg), figure.name).not.toThrow();
    expect(figures[1]!.svg.match(/<svg\b/g)).toHaveLength(3);
    // A "not computed" cell is its own marker, named in the legend, the tooltip and the caption.
    const k = figures.find((f) => f.name === "lower-circuit-k")!;
    expect(k.svg).toContain("<title>layer L0, sender at YY H1: not computed</title>");
    expect(k.svg).toMatch(/<text[^>]*>not computed<\/text>/);
    expect(k.caption).toMatch(/"not computed" .* below 10 % of that grid's largest \|effect\|/);
  });

  it("without any upstream sender: one figure of the embedding's paths, captioned with the reason", () => {
    const figures = circuitEvaluationFigures(report(false, false));
    const lower = figures.filter((f) => f.name.startsWith("lower-circuit"));
    expect(lower.map((f) => f.name)).toEqual(["lower-circuit-embedding"]);
    expect(lower[0]!.caption).toMatch(/^Nothing at YY is upstream\./);
    const tables = circuitEvaluationTables(report(false, false));
    expect(tables[1]!.rows.at(-1)).toEqual(["note", "Nothing at YY is upstream."]);
  });

  it("sideBySide places documents left to right and refuses what is not an sized <svg>", () => {
    const a = '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50"><rect width="1" height="1"/></svg>';
    const b = '<svg xmlns="http://www.w3.org/2000/svg" width="30" height="80"/>';
    const both = sideBySide([a, b], 10);
    expect(both).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="140" height="80"/);
    expect(both).toContain('<svg x="110" y="0"');
    expect(() => sideBySide(["<g/>"])).toThrow(/not an <svg>/);
  });
});
