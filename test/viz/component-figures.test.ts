import { describe, expect, it } from "vitest";
import type { ComponentAnalysesReport } from "../../src/tasks/greater-than/component-analyses.ts";
import { componentFigures, componentTables } from "../../src/viz/component-figures.ts";
import { expectValidSvg } from "./svg-assertions.ts";

const yy = [2, 3, 4];
const rows = yy.map(() => Array.from({ length: 100 }, (_, y) => y / 100));

const full: ComponentAnalysesReport = {
  attention_patterns: {
    positions: ["a", "b"],
    heads: [{ head: "L0H1", pattern: [[1, null], [0.3, 0.7]] }],
  },
  attention_by_yy: { yy, heads: ["L0H1"], attention: [[0.9, 0.8, 0.95]] },
  head_logit_lens: [{ head: "L0H1", yy, year_logits: rows }],
  year_pca: {
    noun: "war",
    century: 17,
    yy,
    panels: [
      { name: "mlp_input", what: "MLP0's input", points: [[0, 1], [1, 0], [2, 2]], explained_variance: [0.6, 0.3], missing: null },
      { name: "circuit_heads", what: "heads", points: null, explained_variance: null, missing: "the circuit has no heads" },
    ],
  },
  neurons: {
    mlp: "blocks.1.mlp",
    layer: 1,
    yy,
    ranking: [{ neuron: 5, score: -0.1 }, { neuron: 9, score: 0.05 }],
    heatmaps: [{ neuron: 5, dla: rows, patching: rows }],
    together: { k: 2, neurons: [5, 9], together: -0.06, sum_of_singles: -0.05 },
    cumulative: { n: [1, 2], effect: [-0.1, -0.06] },
    metric: "Δ year-logit difference",
  },
};

describe("componentFigures", () => {
  it("draws every section of a full report", () => {
    const figures = componentFigures(full);
    expect(figures.map((f) => f.name)).toEqual([
      "attention-pattern-L0H1", "attention-end-to-yy-by-yy", "head-logit-lens-L0H1", "year-pca-mlp-input", "year-pca-circuit-heads",
      "neuron-1-5-dla", "neuron-1-5-patching", "neurons-together-vs-sum", "neurons-cumulative",
    ]);
    for (const figure of figures) expectValidSvg(figure.svg);
    expect(figures.find((f) => f.name === "year-pca-mlp-input")!.caption).toContain("PC1 explains 60.0 %");
    expect(figures.find((f) => f.name === "year-pca-circuit-heads")!.caption).toBe("No PCA of heads: the circuit has no heads.");
    expect(componentTables(full).map((t) => t.rows.length)).toEqual([2, 3]);
  });

  it("says in a sentence why a section has nothing to show", () => {
    const empty: ComponentAnalysesReport = {
      ...full,
      attention_patterns: { positions: ["a"], heads: [] },
      attention_by_yy: { yy, heads: [], attention: [] },
      head_logit_lens: [],
      neurons: null,
    };
    const figures = componentFigures(empty);
    const captions = new Map(figures.map((f) => [f.name, f.caption]));
    expect(captions.get("attention-patterns")).toBe("No attention patterns: the circuit has no heads.");
    expect(captions.get("head-logit-lens")).toBe("No head logit lens: the circuit has no heads.");
    expect(captions.get("neurons")).toMatch(/^No neuron analysis: /);
    for (const figure of figures) expectValidSvg(figure.svg);
  });
});
