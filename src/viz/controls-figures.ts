/** Figures and tables of a greater-than report's controls: the task check, statistics, random circuits, the YY slice, the large baseline. */
import type { GreaterThanReport } from "../tasks/greater-than/pipeline.ts";
import type { MeanSummary } from "../tasks/statistics.ts";
import { barChart } from "./bar-chart.ts";
import { Figure } from "./figure.ts";
import { lineChart } from "./line-chart.ts";
import { noteFigure } from "./note-figure.ts";
import { clippedProbabilityRange, clippedRangeSentence } from "./color-ranges.ts";
import type { ReportTable } from "./report-html.ts";

import { YEAR_LABELS, yearProbabilityHeatmap } from "./year-heatmap.ts";
const two = (yy: number) => String(yy).padStart(2, "0");

/** Four decimals, or three significant digits for magnitudes below 0.001 (a random model's PD is ~1e-4). */
const num = (value: number) => (value !== 0 && Math.abs(value) < 1e-3 ? value.toExponential(2) : value.toFixed(4));

/** "0.9702 ± 0.0099 [0.9694, 0.9710]": mean ± sd [bootstrap interval]. */
export function formatSummary(summary: MeanSummary): string {
  return `${num(summary.mean)} ± ${num(summary.sd)} [${num(summary.ci[0])}, ${num(summary.ci[1])}]`;
}

/** The sections a report without a circuit leaves out, each as a sentence saying why (figure names "skipped-…"). */
export function skippedCircuitFigure(name: string, title: string, report: GreaterThanReport): Figure {
  return noteFigure(`skipped-${name}`, title, `${title}: not computed, because ${report.task_check.reason}.`);
}

export function probabilitySliceFigure(report: GreaterThanReport): Figure {
  const slice = report.probability_slice;
  if (slice.model === null) {
    return noteFigure("probability-slice", `p(year | YY = ${two(slice.yy)})`, `No prompt has YY = ${two(slice.yy)}, so there is no slice to draw (use --n ≥ 97 or another --slice).`);
  }
  const series = [{ name: "model (clean prompts)", values: slice.model }];
  if (slice.circuit_paper) series.push({ name: "circuit (paper's evaluation)", values: slice.circuit_paper });
  return new Figure({
    name: "probability-slice",
    caption:
      `Mean probability of each end year after "…from the year XX${two(slice.yy)} to the year XX", over the ${slice.prompts} prompt(s) with YY = ${two(slice.yy)}, ` +
      `for the model${slice.circuit_paper ? " and for the circuit (the paper's evaluation)" : ""}. The dashed line marks YY; greater-than puts the mass to its right.`,
    svg: lineChart({ title: `p(year | YY = ${two(slice.yy)})`, x: YEAR_LABELS.map((_, y) => y), series, xLabel: "predicted year YY'", yLabel: "probability", verticalMarker: slice.yy }),
  });
}

export function randomCircuitControlFigure(report: GreaterThanReport): Figure[] {
  const control = report.random_circuit_control;
  if (!control) return [];
  const ranked = [
    { label: "circuit", value: control.circuit_prob_diff },
    ...control.random.map((r, i) => ({ label: `R${i + 1}`, value: r.prob_diff })),
  ].sort((a, b) => b.value - a.value);
  return [
    new Figure({
      name: "random-circuit-control",
      caption:
        `The circuit's PD under the paper's evaluation beside ${control.k} random circuits (${control.rule}), ranked. ` +
        `${(100 * control.fraction_reaching).toFixed(0)} % of the random circuits reach the circuit's PD ${control.circuit_prob_diff.toFixed(3)} ` +
        `(the model's: ${report.baseline.prob_diff.toFixed(3)}; corrupted prompts: ${report.baseline.corrupted_prob_diff.toFixed(3)}).`,
      svg: barChart({
        title: "Circuit vs random head sets of its size",
        labels: ranked.map((r) => r.label),
        values: ranked.map((r) => r.value),
        highlight: [ranked.findIndex((r) => r.label === "circuit")],
        highlightLabel: "the circuit",
        otherLabel: "random head sets",
        xLabel: "circuit (ranked by PD)",
        yLabel: "probability difference",
      }),
    }),
  ];
}

export function largeBaselineFigure(report: GreaterThanReport): Figure[] {
  const large = report.large_baseline;
  if (!large) return [];
  const heat = large.probability_heatmap;
  const range = clippedProbabilityRange(heat.mean_probability);
  return [
    new Figure({
      name: "large-baseline-heatmap",
      caption:
        `Mean end-year probabilities over ${large.n} unbalanced prompts (${large.sampling}); rows average between ` +
        `${Math.min(...heat.prompts)} and ${Math.max(...heat.prompts)} prompts. PD ${formatSummary(large.prob_diff)}. ` +
        clippedRangeSentence(range, heat.mean_probability),
      svg: yearProbabilityHeatmap(`End-year probabilities, ${large.n} unbalanced prompts`, heat.mean_probability, heat.yy, range),
    }),
  ];
}

export function taskCheckTable(report: GreaterThanReport): ReportTable {
  const check = report.task_check;
  return {
    caption: `Does the model compute greater-than? Rule: ${check.rule}`,
    headers: ["computes greater-than", "corruption lowers PD", "circuit analysed", "why"],
    rows: [[check.computes_greater_than, check.corruption_lowers_prob_diff, check.circuit_analysed].map((v): string => (v ? "yes" : "no")).concat(check.reason)],
  };
}

/** Mean ± sd [interval] and the prompts behind each baseline and circuit number. */
export function statisticsTable(report: GreaterThanReport): ReportTable {
  const stats = report.statistics;
  const rows: (string | number)[][] = [
    ["model PD", formatSummary(stats.baseline.prob_diff), stats.baseline.prob_diff.n],
    ["model CS", formatSummary(stats.baseline.cutoff_sharpness), stats.baseline.cutoff_sharpness.n],
    ["corrupted PD", formatSummary(stats.baseline.corrupted_prob_diff), stats.baseline.corrupted_prob_diff.n],
    ["PD − corrupted PD", formatSummary(stats.baseline.corruption_effect), stats.baseline.corruption_effect.n],
  ];
  if (stats.circuit_paper) {
    const c = stats.circuit_paper;
    rows.push(
      ["circuit PD (paper's evaluation)", formatSummary(c.prob_diff), c.prob_diff.n],
      ["circuit CS (paper's evaluation)", formatSummary(c.cutoff_sharpness), c.cutoff_sharpness.n],
      ["circuit PD / model PD", formatRatio(c.fraction_of_baseline), c.fraction_of_baseline.n],
    );
  }
  if (report.large_baseline) {
    const large = report.large_baseline;
    rows.push(
      [`model PD, ${large.n} unbalanced prompts`, formatSummary(large.prob_diff), large.n],
      [`model CS, ${large.n} unbalanced prompts`, formatSummary(large.cutoff_sharpness), large.n],
      [`corrupted PD, ${large.n} unbalanced prompts`, formatSummary(large.corrupted_prob_diff), large.n],
    );
  }
  return { caption: `Per-prompt statistics: mean ± sd [${stats.bootstrap.method}]`, headers: ["quantity", "mean ± sd [interval]", "prompts"], rows };
}

/** "0.8800 [0.8500, 0.9100]": a ratio with its interval. */
export function formatRatio(ratio: { readonly value: number; readonly ci: readonly [number, number] }): string {
  return `${num(ratio.value)} [${num(ratio.ci[0])}, ${num(ratio.ci[1])}]`;
}

export function selectionCellsTable(report: GreaterThanReport): ReportTable[] {
  const cells = report.statistics.selection_cells;
  if (!cells.length) return [];
  return [{
    caption: "Path-patching cells the circuit selection picked: change of PD per prompt when only that path is corrupted, mean ± sd [interval]",
    headers: ["receiver", "sender", "at", "mean ± sd [interval]", "prompts"],
    rows: cells.map((cell) => [cell.grid, cell.sender, cell.sender_position, formatSummary(cell.change), cell.change.n]),
  }];
}

export function randomCircuitTable(report: GreaterThanReport): ReportTable[] {
  const control = report.random_circuit_control;
  if (!control) return [];
  return [{
    caption: `Random-circuit control: ${control.rule}`,
    headers: ["circuit", "heads", "MLPs", "PD"],
    rows: control.random.map((r, i) => [`R${i + 1}`, r.heads.join(", "), r.mlps.join(", ") || "—", r.prob_diff.toFixed(4)]),
  }];
}
