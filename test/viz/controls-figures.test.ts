import { describe, expect, it } from "vitest";
import type { GreaterThanReport } from "../../src/tasks/greater-than/pipeline.ts";
import {
  formatSummary, largeBaselineFigure, probabilitySliceFigure, randomCircuitControlFigure, randomCircuitTable, selectionCellsTable, statisticsTable,
} from "../../src/viz/controls-figures.ts";
import { formatCompactNumber } from "../../src/viz/number-format.ts";

const controlsFigures = (r: GreaterThanReport) => [probabilitySliceFigure(r), ...randomCircuitControlFigure(r), ...largeBaselineFigure(r)];

const summary = (mean: number) => ({ n: 5, mean, sd: 0.01, ci: [mean - 0.02, mean + 0.02] as const });
const row = (peak: number) => Array.from({ length: 100 }, (_, y) => (y === peak ? 0.98 : 0.001 * (y % 7)));

function report(withSlice: boolean): GreaterThanReport {
  return {
    baseline: { prob_diff: 0.97, cutoff_sharpness: 0.03, corrupted_prob_diff: 0.14 },
    task_check: {
      computes_greater_than: true, corruption_lowers_prob_diff: true, circuit_analysed: true, rule: "the rule", min_prob_diff: 0.05,
      prob_diff_lower: 0.95, corruption_effect_lower: 0.8, reason: "both lie above 0.05",
    },
    statistics: {
      bootstrap: { resamples: 10, seed: 0, confidence: 0.95, method: "the method" },
      baseline: { prob_diff: summary(0.97), cutoff_sharpness: summary(0.03), corrupted_prob_diff: summary(0.14), corruption_effect: summary(0.83) },
      circuit_paper: null,
      selection_cells: [{ grid: "logits", sender: "MLP3", sender_position: "END", grid_value: -0.06, change: summary(-0.06) }],
    },
    random_circuit_control: {
      k: 2, seed: 0, mlps: "same", rule: "two random sets", circuit_prob_diff: 0.86, fraction_reaching: 0.5,
      random: [{ heads: ["L1H0"], mlps: ["MLP0"], prob_diff: 0.9 }, { heads: ["L2H1"], mlps: ["MLP0"], prob_diff: 0.2 }],
    },
    probability_slice: { yy: 41, prompts: withSlice ? 5 : 0, model: withSlice ? row(60) : null, circuit_paper: withSlice ? row(61) : null },
    large_baseline: {
      n: 40, seed: 0, batch_size: 16, sampling: "uniform years", prob_diff: summary(0.96), cutoff_sharpness: summary(0.03), corrupted_prob_diff: summary(0.1),
      probability_heatmap: { yy: [97, 98], prompts: [30, 10], mean_probability: [row(99), row(-1)] },
    },
  } as unknown as GreaterThanReport;
}

describe("controls figures", () => {
  it("formats mean ± sd [interval], small magnitudes in exponent form", () => {
    expect(formatSummary({ n: 3, mean: 0.97016, sd: 0.00986, ci: [0.96937, 0.97105] })).toBe("0.9702 ± 0.0099 [0.9694, 0.9710]");
    expect(formatSummary({ n: 3, mean: -8.4e-5, sd: 6e-4, ci: [-3e-4, 0] })).toBe("-8.40e-5 ± 6.00e-4 [-3.00e-4, 0.0000]");
  });

  it("draws the slice with both curves, ranks the random circuits with the circuit highlighted, clips the large heatmap", () => {
    const figures = controlsFigures(report(true));
    expect(figures.map((f) => f.name)).toEqual(["probability-slice", "random-circuit-control", "large-baseline-heatmap"]);
    expect(figures[0]!.svg).toContain("model (clean prompts)");
    expect(figures[0]!.svg).toMatch(/circuit \(paper(&apos;|&#39;|')s evaluation\)/);
    expect(figures[0]!.caption).toContain("over the 5 prompt(s) with YY = 41");
    expect(figures[1]!.caption).toContain("50 % of the random circuits reach the circuit's PD 0.860");
    expect(figures[1]!.svg).toContain("the circuit");
    // One cell of 200 near 1 (as YY 98 → 99): the 99th percentile lies below it, so it saturates.
    const cells = [...row(99), ...row(-1)].sort((a, b) => a - b);
    const p99 = cells[Math.floor(0.99 * cells.length)]!;
    expect(p99).toBeLessThan(0.01);
    expect(figures[2]!.caption).toContain(`clipped at the 99th percentile of the cells, ${formatCompactNumber(p99)} (the largest is 0.98)`);
    expect(figures[2]!.svg).toContain(`colour range: 0 to ${formatCompactNumber(p99)}`);
    expect(figures[2]!.caption).toContain("rows average between 10 and 30 prompts");
  });

  it("says when no prompt has the slice's YY, and tables carry the prompt counts", () => {
    const [slice] = controlsFigures(report(false));
    expect(slice!.caption).toContain("No prompt has YY = 41");
    const stats = statisticsTable(report(true));
    expect(stats.rows[0]).toEqual(["model PD", "0.9700 ± 0.0100 [0.9500, 0.9900]", 5]);
    expect(stats.rows.some((r) => r[0] === "model PD, 40 unbalanced prompts")).toBe(true);
    expect(randomCircuitTable(report(true))[0]!.rows.map((r) => r[0])).toEqual(["R1", "R2"]);
    expect(selectionCellsTable(report(true))[0]!.rows[0]).toEqual(["logits", "MLP3", "END", "-0.0600 ± 0.0100 [-0.0800, -0.0400]", 5]);
  });
});
