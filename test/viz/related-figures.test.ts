import { describe, expect, it } from "vitest";
import type { RelatedFamilyResult } from "../../src/tasks/related/evaluate-family.ts";
import type { RelatedTasksReport } from "../../src/tasks/related/run-related.ts";
import { relatedFigures, relatedReportHtml } from "../../src/viz/related-figures.ts";

function family(id: string, used: number): RelatedFamilyResult {
  const has = used > 0;
  return {
    id, name: `family ${id}`, template: "{year} {XX}", corrupted: "{XX}01 {XX}", mask: ">",
    prompts: { requested: 3, used, excluded: has ? {} : { year_split: 3 }, examples: [], groups: [] },
    prob_diff: has ? 0.5 : null, cutoff_sharpness: has ? 0.01 : null, corrupted_prob_diff: has ? 0.1 : null,
    circuit: has ? { prob_diff: 0.4, fraction_of_baseline: 0.8, recovered: 0.75 } : null,
    does_task: has, circuit_does_task: has ? true : null,
    probability_heatmap: has ? { yy: [2, 3], mean_probability: [new Array(100).fill(0.01), new Array(100).fill(0.02)] } : { yy: [], mean_probability: [] },
    path_patching_logits: has ? [[-0.1, 0, 0.2], [0.01, null, 0]] : null,
  };
}

const report: RelatedTasksReport = {
  model: { n_layers: 2, n_heads: 2, d_model: 8, d_mlp: 32 },
  n: 3, seed: 0,
  circuit: { members: "L0H0,MLP1", source: "--circuit" },
  rules: { does_task: "rule", circuit_does_task: "rule" },
  families: [family("0", 3), family("empty", 0)],
};

describe("related-tasks figures", () => {
  it("draws the summary first, then each family's heatmap and grid; a family without prompts gets none", () => {
    const figures = relatedFigures(report);
    expect(figures.map((f) => f.name)).toEqual(["related-summary", "family-0-probabilities", "family-0-path-patching"]);
    expect(figures[0]!.svg).toContain("n/a");
    expect(figures[1]!.caption).toMatch(/clipped at the 99th percentile/);
  });

  it("the page has the summary table with every family", () => {
    const html = relatedReportHtml(report, relatedFigures(report), "tiny");
    expect(html).toContain("Related tasks on tiny");
    expect(html).toContain("<td>empty: family empty</td>");
    expect(html).toContain("<td>3 (0)</td>");
    expect(html).toContain("<td>0 (3)</td>");
  });
});
