import { type GreaterThanReport, reportHasCircuit } from "../tasks/greater-than/pipeline.ts";
import { barChart } from "./bar-chart.ts";
import { componentFigures, componentTables } from "./component-figures.ts";
import { circuitEvaluationFigures, circuitEvaluationTables } from "./circuit-evaluation-figures.ts";
import { controlsFigures, controlsTables, skippedCircuitFigures } from "./controls-figures.ts";
import { edgeAttributionFigures, edgeAttributionTables } from "./edge-attribution-figures.ts";
import { Figure } from "./figure.ts";
import { heatmap } from "./heatmap.ts";
import { renderReportHtml, type ReportTable } from "./report-html.ts";

const YEAR_LABELS = Array.from({ length: 100 }, (_, y) => String(y).padStart(2, "0"));

function senderColumns(nHeads: number): string[] {
  return [...Array.from({ length: nHeads }, (_, h) => `H${h}`), "MLP"];
}

function layerRows(nLayers: number): string[] {
  return Array.from({ length: nLayers }, (_, l) => `L${l}`);
}

function fileStem(text: string): string {
  return text.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

const fmt = (value: number) => value.toFixed(3);

/** A path-patching grid as a heatmap: layers (rows) × senders (each head, then the MLP), Δ PD on a diverging scale. */
function senderHeatmap(title: string, grid: readonly (readonly (number | null)[])[], nLayers: number, nHeads: number): string {
  return heatmap({
    title,
    values: grid,
    rowLabels: layerRows(nLayers),
    colLabels: senderColumns(nHeads),
    xLabel: "sender",
    yLabel: "layer",
    colorScale: "diverging",
    valueLabel: "Δ PD",
  });
}

/** The figures of a greater-than report, in reading order. */
export function greaterThanFigures(report: GreaterThanReport): Figure[] {
  const { n_layers: nLayers, n_heads: nHeads } = report.model;
  const figures: Figure[] = [];
  figures.push(
    new Figure({
      name: "probability-heatmap",
      caption:
        `Mean probability the model gives each end year (columns) after "…from the year XXYY to the year XX", per start year YY (rows). ` +
        `Greater-than shows as mass right of the diagonal. PD = ${fmt(report.baseline.prob_diff)}, CS = ${fmt(report.baseline.cutoff_sharpness)}.`,
      svg: heatmap({
        title: "Predicted end-year probabilities",
        values: report.probability_heatmap.mean_probability,
        rowLabels: report.probability_heatmap.yy.map((y) => String(y).padStart(2, "0")),
        colLabels: YEAR_LABELS,
        xLabel: "predicted year YY'",
        yLabel: "start year YY",
        colorScale: "sequential",
        valueLabel: "probability",
      }),
    }),
  );
  for (const entry of report.path_patching) {
    const via = entry.continuation.length ? ` via ${entry.continuation.join(", ")}` : "";
    figures.push(
      new Figure({
        name: `path-patching-${fileStem(entry.receiver)}`,
        caption:
          `Path patching senders at END → ${entry.receiver}${via}: mean change of PD when the path from the sender carries its corrupted (XX01) value. ` +
          "Blue cells are components whose path supports greater-than; grey cells are not upstream of the receiver.",
        svg: senderHeatmap(`Senders → ${entry.receiver}${via}`, entry.grid, nLayers, nHeads),
      }),
    );
  }
  for (const entry of report.head_input_patching) {
    const where = entry.channel === "q" ? "queries at END" : "keys and values at YY";
    figures.push(
      new Figure({
        name: `head-inputs-${entry.channel}`,
        caption:
          `Path patching senders at ${entry.channel === "q" ? "END" : "YY"} → the circuit heads' ${where} (${entry.receivers.join(", ") || "no circuit heads"})` +
          `${entry.continuation.length ? `, continuing through ${entry.continuation.join(", ")}` : ""}: mean change of PD` +
          (entry.embed === null ? "." : `; the embedding at the same position (not in the grid): ${entry.embed.toFixed(3)}.`),
        svg: senderHeatmap(`Senders → circuit heads' ${where}`, entry.grid, nLayers, nHeads),
      }),
    );
  }
  figures.push(
    new Figure({
      name: "attention-end-to-yy",
      caption: `Mean attention from END to the YY token, per head, on the clean prompts. Circuit heads: ${report.circuit?.heads.join(", ") || "none"}.`,
      svg: heatmap({
        title: "Attention END → YY",
        values: report.attention_end_to_yy,
        rowLabels: layerRows(nLayers),
        colLabels: Array.from({ length: nHeads }, (_, h) => `H${h}`),
        xLabel: "head",
        yLabel: "layer",
        colorScale: "sequential",
        range: [0, 1],
        valueLabel: "attention",
      }),
    }),
  );
  for (const lens of report.mlp_logit_lens) {
    figures.push(
      new Figure({
        name: `logit-lens-${fileStem(lens.mlp)}`,
        caption:
          `Logit lens of ${lens.mlp} at END (ln_final scale of the clean run frozen): what this MLP alone writes to each year token, ` +
          "per start year YY, centred per row. Red right of the diagonal means it boosts years > YY.",
        svg: heatmap({
          title: `Logit lens of ${lens.mlp}`,
          values: lens.year_logits,
          rowLabels: lens.yy.map((y) => String(y).padStart(2, "0")),
          colLabels: YEAR_LABELS,
          xLabel: "year token",
          yLabel: "start year YY",
          colorScale: "diverging",
          valueLabel: "logit",
        }),
      }),
    );
  }
  if (report.top_neurons) {
    const ranking = report.top_neurons;
    figures.push(
      new Figure({
        name: "top-neurons",
        caption: `Top neurons of ${ranking.mlp}: ${ranking.score}. Negative values: the neuron's clean activation supports greater-than.`,
        svg: barChart({
          title: `Top neurons of ${ranking.mlp}`,
          labels: ranking.neurons.map((n) => `N${n.neuron}`),
          values: ranking.neurons.map((n) => n.score),
          xLabel: "neuron",
          yLabel: "Δ year-logit difference",
        }),
      }),
    );
  }
  if (!reportHasCircuit(report)) {
    figures.push(...skippedCircuitFigures(report), ...controlsFigures(report));
    return figures;
  }
  figures.push(
    new Figure({
      name: "circuit-vs-model",
      caption:
        `Probability difference of the model, of the circuit (clean values flow only along the circuit's paths, everything else corrupted), ` +
        `and of the corrupted prompts. The circuit reaches ${(100 * report.circuit.fraction_of_baseline).toFixed(1)} % of the model's PD.`,
      svg: barChart({
        title: "Circuit PD vs model PD",
        labels: ["model", "circuit", "corrupted"],
        values: [report.baseline.prob_diff, report.circuit.prob_diff, report.baseline.corrupted_prob_diff],
        highlight: [1],
        yLabel: "probability difference",
      }),
    }),
  );
  figures.push(...componentFigures(report.component_analyses));
  figures.push(...circuitEvaluationFigures(report));
  figures.push(...controlsFigures(report));
  if (report.edge_attribution) figures.push(...edgeAttributionFigures(report.edge_attribution));
  return figures;
}

export function greaterThanReportHtml(report: GreaterThanReport, figures: readonly Figure[], modelName: string): string {
  const tables: ReportTable[] = [
    {
      caption: "Baseline metrics (paper values for GPT-2 small: PD 0.817, CS 0.059)",
      headers: ["metric", "value"],
      rows: [
        ["probability difference (PD)", fmt(report.baseline.prob_diff)],
        ["cutoff sharpness (CS)", fmt(report.baseline.cutoff_sharpness)],
        ["PD on corrupted (XX01) prompts", fmt(report.baseline.corrupted_prob_diff)],
      ],
    },
    ...controlsTables(report),
  ];
  if (reportHasCircuit(report)) tables.push(
    {
      caption: report.circuit.source === "given"
        ? "Circuit evaluated (heads and MLPs given by --circuit; senders at YY found by path patching)"
        : report.circuit.source === "found"
          ? "Circuit found by iterative path patching"
          : `Circuit found from ${report.circuit.source === "eap" ? "EAP" : "EAP-IG"} edge scores (top edges, kept connected to the logits)`,
      headers: ["part", "members"],
      rows: [
        ["heads (at END)", report.circuit.heads.join(", ") || "—"],
        ["MLPs (at END)", report.circuit.mlps.join(", ") || "—"],
        ["senders at YY", report.circuit.yy_senders.join(", ") || "—"],
        ["circuit PD", fmt(report.circuit.prob_diff)],
        ["fraction of the model's PD", fmt(report.circuit.fraction_of_baseline)],
      ],
    },
    ...componentTables(report.component_analyses),
    ...circuitEvaluationTables(report),
    ...(report.edge_attribution ? edgeAttributionTables(report.edge_attribution) : []),
  );
  return renderReportHtml({
    title: `How does ${modelName} compute greater-than?`,
    intro:
      `A reproduction of Hanna, Liu & Variengien (2023) on ${report.dataset.yy.length} prompts "The {noun} lasted from the year XXYY to the year XX", ` +
      "corrupted prompts with start year XX01. All numbers are in report.json.",
    figures,
    tables,
  });
}
