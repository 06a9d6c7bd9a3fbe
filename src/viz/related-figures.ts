/** The related-tasks report: a summary bar chart, then each family's probability heatmap and path-patching grid. */
import type { RelatedFamilyResult } from "../tasks/related/evaluate-family.ts";
import type { RelatedTasksReport } from "../tasks/related/run-related.ts";
import { barChart } from "./bar-chart.ts";
import { clippedProbabilityRange } from "./color-ranges.ts";
import { Figure } from "./figure.ts";
import { heatmap } from "./heatmap.ts";
import { renderReportHtml, type ReportTable } from "./report-html.ts";

const YEAR_LABELS = Array.from({ length: 100 }, (_, y) => String(y).padStart(2, "0"));
const fmt = (value: number | null | undefined) => (value === null || value === undefined ? "—" : value.toFixed(3));
/** Three significant digits in the figures (report.json keeps full precision): keeps index.html small. */
const rounded = (rows: readonly (readonly (number | null)[])[]) => rows.map((row) => row.map((v) => (v === null ? null : Number(v.toPrecision(3)))));
const yesNo = (value: boolean | null) => (value === null ? "—" : value ? "yes" : "no");


function familyFigures(family: RelatedFamilyResult, nLayers: number, nHeads: number): Figure[] {
  const figures: Figure[] = [];
  const side = family.mask === ">" ? "after" : "before";
  const verdict =
    `PD ${fmt(family.prob_diff)} (corrupted ${fmt(family.corrupted_prob_diff)}, circuit ${fmt(family.circuit?.prob_diff)}) ` +
    `on ${family.prompts.used} prompts; model does the task: ${yesNo(family.does_task)}; circuit does it: ${yesNo(family.circuit_does_task)}.`;
  if (family.probability_heatmap.yy.length > 0) {
    const range = clippedProbabilityRange(family.probability_heatmap.mean_probability);
    figures.push(
      new Figure({
        name: `family-${family.id}-probabilities`,
        caption:
          `Family ${family.id} (${family.name}): "${family.template}". Mean probability of each end year (columns) per YY (rows); ` +
          `correct years lie ${side} YY (mask "${family.mask}"). Colour scale clipped at the 99th percentile, ${range[1].toPrecision(2)}. ${verdict}`,
        svg: heatmap({
          title: `Family ${family.id}: end-year probabilities`,
          values: rounded(family.probability_heatmap.mean_probability),
          rowLabels: family.probability_heatmap.yy.map((y) => String(y).padStart(2, "0")),
          colLabels: YEAR_LABELS,
          xLabel: "predicted year",
          yLabel: "YY",
          colorScale: "sequential",
          range,
          valueLabel: "probability",
        }),
      }),
    );
  }
  if (family.path_patching_logits) {
    figures.push(
      new Figure({
        name: `family-${family.id}-path-patching`,
        caption:
          `Family ${family.id}: path patching senders at END → logits, mean change of the family's PD when the sender's path carries ` +
          `its value on the corrupted prompt ("${family.corrupted}"). Blue: the component's path supports the task.`,
        svg: heatmap({
          title: `Family ${family.id}: senders → logits`,
          values: rounded(family.path_patching_logits),
          rowLabels: Array.from({ length: nLayers }, (_, l) => `L${l}`),
          colLabels: [...Array.from({ length: nHeads }, (_, h) => `H${h}`), "MLP"],
          xLabel: "sender",
          yLabel: "layer",
          colorScale: "diverging",
          valueLabel: "Δ PD",
        }),
      }),
    );
  }
  return figures;
}

/** The report's figures, summary first. */
export function relatedFigures(report: RelatedTasksReport): Figure[] {
  const labels: string[] = [];
  const values: (number | null)[] = [];
  const highlight: number[] = [];
  for (const family of report.families) {
    labels.push(`${family.id} model`, `${family.id} corrupted`, `${family.id} circuit`);
    values.push(family.prob_diff, family.corrupted_prob_diff, family.circuit?.prob_diff ?? null);
    highlight.push(values.length - 1);
  }
  const summary = new Figure({
    name: "related-summary",
    caption:
      `PD per family (mask of each family): the model on clean prompts, on corrupted prompts, and the circuit (${report.circuit.members || "no circuit"}; ` +
      `${report.circuit.source}), clean values flowing only along its paths. n/a: no prompt kept or no circuit.`,
    svg: barChart({
      title: "Probability difference per family",
      labels,
      values,
      highlight,
      highlightLabel: "circuit",
      otherLabel: "model: clean, then corrupted prompts",
      xLabel: "family and run",
      yLabel: "probability difference",
    }),
  });
  const { n_layers: nLayers, n_heads: nHeads } = report.model;
  return [summary, ...report.families.flatMap((family) => familyFigures(family, nLayers, nHeads))];
}

export function relatedReportHtml(report: RelatedTasksReport, figures: readonly Figure[], modelName: string): string {
  const table: ReportTable = {
    caption: `Does ${modelName} do each task, and does the circuit carry it? (does the task: ${report.rules.does_task}; circuit: ${report.rules.circuit_does_task})`,
    headers: ["family", "mask", "prompts (excluded)", "PD", "CS", "corrupted PD", "circuit PD", "recovered", "model does it", "circuit does it"],
    rows: report.families.map((f) => [
      `${f.id}: ${f.name}`,
      f.mask,
      `${f.prompts.used} (${f.prompts.requested - f.prompts.used})`,
      fmt(f.prob_diff),
      fmt(f.cutoff_sharpness),
      fmt(f.corrupted_prob_diff),
      fmt(f.circuit?.prob_diff),
      fmt(f.circuit?.recovered),
      yesNo(f.does_task),
      yesNo(f.circuit_does_task),
    ]),
  };
  return renderReportHtml({
    title: `Related tasks on ${modelName}: does the greater-than circuit generalize?`,
    intro:
      `${report.families.length} prompt families, ${report.n} prompts requested per family (seed ${report.seed}); prompts whose years do not ` +
      `tokenize as century + YY are dropped. Circuit: ${report.circuit.members || "none"} (${report.circuit.source}). All numbers are in report.json.`,
    figures,
    tables: [table],
  });
}
