import { type GreaterThanCircuitReport, type GreaterThanReport, reportHasCircuit } from "../tasks/greater-than/pipeline.ts";
import type { GreaterThanRunRecord } from "../tasks/greater-than/run-record.ts";
import { barChart } from "./bar-chart.ts";
import { attentionFigures, headLensFigures, neuronFigures, neuronTables, pcaFigures, pcaTable } from "./component-figures.ts";
import { evaluationFigures, evaluationTable, lowerCircuitFigures, lowerCircuitTable } from "./circuit-evaluation-figures.ts";
import { clippedProbabilityRange, clippedRangeSentence, hasDrawableCell, sharedSymmetricRange } from "./color-ranges.ts";
import {
  formatRatio, formatSummary, largeBaselineFigure, probabilitySliceFigure, randomCircuitControlFigure, randomCircuitTable, selectionCellsTable,
  skippedCircuitFigure, statisticsTable, taskCheckTable,
} from "./controls-figures.ts";
import { Figure } from "./figure.ts";
import { edgeAttributionFigures, edgeAttributionTables } from "./edge-attribution-figures.ts";
import { greaterThanCircuitDiagram } from "./greater-than-circuit-diagram.ts";
import { heatmap } from "./heatmap.ts";
import { noteFigure } from "./note-figure.ts";
import { formatCompactNumber } from "./number-format.ts";
import { renderReportHtml, type ReportSection, type ReportTable } from "./report-html.ts";

import { YEAR_LABELS, yearProbabilityHeatmap } from "./year-heatmap.ts";

/** Figures whose SVG is longer than this are shown in index.html from their file, not inlined (see renderReportHtml). */
export const INLINE_FIGURE_LIMIT = 100_000;

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
const pct = (value: number) => `${(100 * value).toFixed(1)} %`;

type Grid = readonly (readonly (number | string | null)[])[];

/** Every sender grid of the report: the iterative sweeps, the heads' inputs and the lower circuit. */
function senderGrids(report: GreaterThanReport): Grid[] {
  const lower = report.lower_circuit;
  return [
    ...report.path_patching.map((p) => p.grid),
    ...report.head_input_patching.map((h) => h.grid),
    ...(lower ? [lower.k, lower.v, ...lower.mlps_at_yy] : []).flatMap((g) => (g ? [g.grid] : [])),
  ];
}

/** A path-patching grid as a heatmap: layers (rows) × senders (each head, then the MLP), Δ PD on the shared diverging scale. */
function senderHeatmap(title: string, grid: readonly (readonly (number | null)[])[], nLayers: number, nHeads: number, range: [number, number]): string {
  return heatmap({
    title,
    values: grid,
    rowLabels: layerRows(nLayers),
    colLabels: senderColumns(nHeads),
    xLabel: "sender",
    yLabel: "layer",
    colorScale: "diverging",
    range,
    valueLabel: "Δ PD",
    missingLabel: "not upstream",
  });
}

function behaviourFigures(report: GreaterThanReport): Figure[] {
  const heat = report.probability_heatmap;
  const range = clippedProbabilityRange(heat.mean_probability);
  return [
    new Figure({
      name: "probability-heatmap",
      caption:
        `Mean probability the model gives each end year (columns) after "…from the year XXYY to the year XX", per start year YY (rows). ` +
        `Greater-than shows as mass right of the diagonal. PD = ${fmt(report.baseline.prob_diff)}, CS = ${fmt(report.baseline.cutoff_sharpness)}. ` +
        clippedRangeSentence(range, heat.mean_probability),
      svg: yearProbabilityHeatmap("Predicted end-year probabilities", heat.mean_probability, heat.yy, range),
    }),
    probabilitySliceFigure(report),
  ];
}

function circuitFigures(report: GreaterThanCircuitReport): Figure[] {
  return [
    greaterThanCircuitDiagram(report),
    new Figure({
      name: "circuit-vs-model",
      caption:
        `Probability difference of the model, of the circuit (clean values flow only along the circuit's paths, everything else corrupted), ` +
        `and of the corrupted prompts. The circuit reaches ${pct(report.circuit.fraction_of_baseline)} of the model's PD.`,
      svg: barChart({
        title: "Circuit PD vs model PD",
        labels: ["model", "circuit", "corrupted"],
        values: [report.baseline.prob_diff, report.circuit.prob_diff, report.baseline.corrupted_prob_diff],
        highlight: [1],
        highlightLabel: "circuit",
        otherLabel: "model: clean, corrupted prompts",
        yLabel: "probability difference",
      }),
    }),
  ];
}

function pathPatchingFigures(report: GreaterThanReport, range: [number, number]): Figure[] {
  const { n_layers: nLayers, n_heads: nHeads } = report.model;
  const scale = ` Colour scale ±${formatCompactNumber(range[1])}, shared by every path-patching figure, so a pale grid is a weak one.`;
  return report.path_patching.map((entry) => {
    const via = entry.continuation.length ? ` via ${entry.continuation.join(", ")}` : "";
    const name = `path-patching-${fileStem(entry.receiver)}`;
    const title = `Senders → ${entry.receiver}${via}`;
    if (!hasDrawableCell(entry.grid)) return noteFigure(name, title, `No component at END is upstream of ${entry.receiver}: nothing to patch.`);
    return new Figure({
      name,
      caption:
        `Path patching senders at END → ${entry.receiver}${via}: mean change of PD when the path from the sender carries its corrupted (XX01) value. ` +
        "Blue cells are components whose path supports greater-than; hatched cells are not upstream of the receiver." + scale,
      svg: senderHeatmap(title, entry.grid, nLayers, nHeads, range),
    });
  });
}

function headInputFigures(report: GreaterThanReport, range: [number, number]): Figure[] {
  const { n_layers: nLayers, n_heads: nHeads } = report.model;
  return report.head_input_patching.map((entry) => {
    const where = entry.channel === "q" ? "queries at END" : "keys and values at YY";
    const name = `head-inputs-${entry.channel}`;
    const title = `Senders → circuit heads' ${where}`;
    const embed = entry.embed === null ? "" : ` The embedding at the same position: ${entry.embed.toFixed(3)}.`;
    if (!hasDrawableCell(entry.grid)) {
      const why = entry.receivers.length === 0
        ? "the circuit has no heads."
        : `no head or MLP is upstream of the circuit heads (${entry.receivers.join(", ")}), which sit in layer 0.`;
      return noteFigure(name, title, `No sender to the circuit heads' ${where}: ${why}${embed}`);
    }
    return new Figure({
      name,
      caption:
        `Path patching senders at ${entry.channel === "q" ? "END" : "YY"} → the circuit heads' ${where} (${entry.receivers.join(", ")})` +
        `${entry.continuation.length ? `, continuing through ${entry.continuation.join(", ")}` : ""}: mean change of PD.${embed}` +
        ` Colour scale ±${formatCompactNumber(range[1])}, shared by every path-patching figure.`,
      svg: senderHeatmap(title, entry.grid, nLayers, nHeads, range),
    });
  });
}

function attentionAndLensFigures(report: GreaterThanReport): Figure[] {
  const circuitHeads = report.circuit ? report.circuit.heads.join(", ") || "none" : "none (no circuit was analysed)";
  const { n_layers: nLayers, n_heads: nHeads } = report.model;
  const figures: Figure[] = [
    new Figure({
      name: "attention-end-to-yy",
      caption: `Mean attention from END to the YY token, per head, on the clean prompts. Circuit heads: ${circuitHeads}.`,
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
    ...(report.component_analyses ? attentionFigures(report.component_analyses) : []),
  ];
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
  if (report.component_analyses) figures.push(...headLensFigures(report.component_analyses));
  return figures;
}

function topNeuronFigures(report: GreaterThanReport): Figure[] {
  const ranking = report.top_neurons;
  if (!ranking) return [];
  return [
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
  ];
}

const yesNo = (value: boolean) => (value ? "yes" : "no");

/**
 * The summary: the task check's verdict, the model's metrics (mean ± sd [interval]) with the prompts
 * each rests on, the circuit and how much of the model's PD it keeps under each evaluation.
 */
function summaryTables(report: GreaterThanReport): ReportTable[] {
  const { statistics: stats, task_check: check } = report;
  const rows: (string | number)[][] = [
    ["computes greater-than?", `${yesNo(check.computes_greater_than)}: ${check.reason}`, stats.baseline.prob_diff.n],
    ["probability difference (PD)", formatSummary(stats.baseline.prob_diff), stats.baseline.prob_diff.n],
    ["cutoff sharpness (CS)", formatSummary(stats.baseline.cutoff_sharpness), stats.baseline.cutoff_sharpness.n],
    ["PD on corrupted (XX01) prompts", formatSummary(stats.baseline.corrupted_prob_diff), stats.baseline.corrupted_prob_diff.n],
  ];
  const large = report.large_baseline;
  if (large) rows.push([`PD, ${large.n} unbalanced prompts`, formatSummary(large.prob_diff), large.n], [`CS, ${large.n} unbalanced prompts`, formatSummary(large.cutoff_sharpness), large.n]);
  const prompts = stats.baseline.prob_diff.n;
  if (!reportHasCircuit(report)) {
    rows.push(["circuit", "none: no circuit was selected or evaluated (see above)", "—"]);
  } else {
    const { circuit } = report;
    rows.push(
      [`circuit heads at END (${circuit.source})`, circuit.heads.join(", ") || "—", prompts],
      ["circuit MLPs at END", circuit.mlps.join(", ") || "—", prompts],
      ["circuit senders at YY", circuit.yy_senders.join(", ") || "—", prompts],
    );
    if (stats.circuit_paper) {
      rows.push(
        ["circuit PD (paper's evaluation)", formatSummary(stats.circuit_paper.prob_diff), stats.circuit_paper.prob_diff.n],
        ["circuit PD / model PD", formatRatio(stats.circuit_paper.fraction_of_baseline), stats.circuit_paper.fraction_of_baseline.n],
      );
    }
    const control = report.random_circuit_control;
    if (control) rows.push(["random head sets reaching the circuit's PD", pct(control.fraction_reaching), `${control.k} sets`]);
  }
  const tables: ReportTable[] = [{
    caption:
      `The model and its circuit: mean ± sd [${Math.round(100 * stats.bootstrap.confidence)} % bootstrap interval]; n, the prompts each number rests on ` +
      "(paper values for GPT-2 small: PD 0.817, CS 0.059)",
    headers: ["", "value", "n"],
    rows,
  }];
  if (reportHasCircuit(report)) {
    const evaluations = report.circuit_evaluation;
    const evaluation = [
      ["paper's evaluation", evaluations.paper],
      ["reverse (only the circuit's paths corrupted)", evaluations.paper_reverse],
      ["full circuit (stricter rule)", evaluations.full_circuit],
      ["upper and lower circuit", evaluations.upper_and_lower],
    ] as const;
    tables.push({
      caption: "How much of the model's PD the circuit keeps, by evaluation",
      headers: ["evaluation", "circuit PD", "CS", "fraction of the model's PD", "n"],
      rows: evaluation.flatMap(([title, entry]) =>
        entry ? [[title, fmt(entry.prob_diff), fmt(entry.cutoff_sharpness), pct(entry.fraction_of_baseline), prompts]] : [],
      ),
    });
  }
  return tables;
}

function behaviourSections(report: GreaterThanReport): ReportSection[] {
  const sections: ReportSection[] = [
    { id: "behaviour", heading: "What the model predicts", figures: behaviourFigures(report) },
    {
      id: "statistics",
      heading: "Statistics and the task check",
      intro:
        `Every number as mean ± standard deviation over the prompts, with a bootstrap interval (${report.statistics.bootstrap.method}). ` +
        `${report.task_check.circuit_analysed ? "The circuit is analysed" : "No circuit is analysed"}: ${report.task_check.reason}.`,
      tables: [taskCheckTable(report), statisticsTable(report), ...selectionCellsTable(report)],
    },
  ];
  if (report.large_baseline) {
    sections.push({
      id: "large-baseline",
      heading: `Baseline on ${report.large_baseline.n} unbalanced prompts`,
      intro: "The paper's headline PD and CS come from many unbalanced prompts; computed in batches, without path patching.",
      figures: largeBaselineFigure(report),
    });
  }
  return sections;
}

/** The sections of a report whose model does not compute the task: what was computed, and a sentence for each section skipped. */
function sectionsWithoutCircuit(report: GreaterThanReport): ReportSection[] {
  const skipped: [string, string, string][] = [
    ["circuit", "The circuit", "circuit"],
    ["path-patching", "Iterative path patching", "path-patching"],
    ["head-inputs", "What the circuit heads read", "head-inputs"],
    ["components", "What each circuit component does", "component-analyses"],
    ["evaluations", "Circuit evaluations", "circuit-evaluation"],
    ["random-circuits", "Random-circuit control", "random-circuit-control"],
  ];
  return [
    ...behaviourSections(report),
    { id: "attention-and-logit-lens", heading: "Attention to YY and logit lens", figures: attentionAndLensFigures(report) },
    ...skipped.map(([id, heading, name]): ReportSection => ({ id, heading, figures: [skippedCircuitFigure(name, heading, report)] })),
  ];
}

function circuitHeading(source: GreaterThanCircuitReport["circuit"]["source"]): string {
  switch (source) {
    case "given": return "Circuit evaluated (heads and MLPs given by --circuit; senders at YY found by path patching)";
    case "found": return "Circuit found by iterative path patching";
    case "eap": return "Circuit found from EAP edge scores (top edges, kept connected to the logits)";
    case "eap-ig": return "Circuit found from EAP-IG edge scores (top edges, kept connected to the logits)";
  }
}

/** The report's sections, in reading order (the summary is separate: see greaterThanReportHtml). */
export function greaterThanSections(report: GreaterThanReport): ReportSection[] {
  if (!reportHasCircuit(report)) return sectionsWithoutCircuit(report);
  const range = sharedSymmetricRange(senderGrids(report));
  const analyses = report.component_analyses;
  return [
    ...behaviourSections(report),
    {
      id: "circuit",
      heading: circuitHeading(report.circuit.source),
      intro: "The circuit's components and the paths between them, with the PD the circuit reaches alone.",
      figures: circuitFigures(report),
    },
    ...(report.edge_attribution ? [{
      id: "edge-attribution",
      heading: `Edge attribution (${report.edge_attribution.method === "eap" ? "EAP" : "EAP-IG"})`,
      intro: "The circuit of the top edges by |score|, kept connected to the logits, evaluated exactly edge by edge; the scores beside the exact path-patching cells of the same senders → receivers.",
      tables: edgeAttributionTables(report.edge_attribution),
      figures: edgeAttributionFigures(report.edge_attribution),
    }] : []),
    {
      id: "path-patching",
      heading: "Iterative path patching",
      intro:
        "Senders at END → the logits, then → each of the last four MLPs (through the circuit MLPs found after it). " +
        `All path-patching figures share one colour scale, ±${formatCompactNumber(range[1])} Δ PD.`,
      figures: pathPatchingFigures(report, range),
    },
    {
      id: "head-inputs",
      heading: "What the circuit heads read",
      intro: "Senders → the circuit heads' queries at END and keys and values at YY, continuing through the circuit MLPs.",
      figures: headInputFigures(report, range),
    },
    {
      id: "attention-and-logit-lens",
      heading: "Attention to YY and logit lens",
      figures: attentionAndLensFigures(report),
    },
    {
      id: "year-pca",
      heading: "Year representations (PCA)",
      tables: [pcaTable(analyses)],
      figures: pcaFigures(analyses),
    },
    {
      id: "neuron-analysis",
      heading: "Neurons",
      tables: neuronTables(analyses),
      figures: [...topNeuronFigures(report), ...neuronFigures(analyses)],
    },
    {
      id: "evaluations",
      heading: "Circuit evaluations",
      tables: [evaluationTable(report)],
      figures: evaluationFigures(report),
    },
    randomCircuitSection(report),
    {
      id: "lower-circuit-at-yy",
      heading: "Lower circuit at YY",
      tables: [lowerCircuitTable(report)],
      figures: lowerCircuitFigures(report, range),
    },
  ];
}

function randomCircuitSection(report: GreaterThanCircuitReport): ReportSection {
  const heading = "Random-circuit control";
  if (!report.random_circuit_control) {
    const why = report.circuit.heads.length === 0 ? "the circuit has no heads to match in size" : "it was not asked for (--random-circuits 0)";
    return { id: "random-circuits", heading, figures: [noteFigure("random-circuit-control", heading, `No random-circuit control: ${why}.`)] };
  }
  return {
    id: "random-circuits",
    heading,
    intro: "The paper's evaluation of random head sets of the circuit's size: a circuit that matters beats most of them.",
    tables: randomCircuitTable(report),
    figures: randomCircuitControlFigure(report),
  };
}

/** The figures of a greater-than report, in reading order (one SVG file each). */
export function greaterThanFigures(report: GreaterThanReport): Figure[] {
  return greaterThanSections(report).flatMap((section) => [...(section.figures ?? [])]);
}

/** How the report was made, when report.json's run record is at hand. */
function runTable(run: GreaterThanRunRecord): ReportTable {
  const dataset = run.dataset.source === "file" ? `file ${run.dataset.path ?? ""}` : `generated: --n ${run.n}, --seed ${run.seed}`;
  return {
    caption: "How this report was made (report.json: run)",
    headers: ["", "value"],
    rows: [
      ["prompts", String(run.prompts)],
      ["dataset", dataset],
      ["model directory", run.model.directory],
      [`${run.model.weights_file} SHA-256`, run.model.weights_sha256],
      ["weights processing", run.model.processing],
      ["package", `${run.package.name} ${run.package.version}`],
      ["time (load, total)", `${run.timings.load_seconds.toFixed(1)} s, ${run.timings.total_seconds.toFixed(1)} s`],
    ],
  };
}

export function greaterThanReportHtml(
  report: GreaterThanReport & { readonly run?: GreaterThanRunRecord },
  sections: readonly ReportSection[],
  modelName: string,
): string {
  return renderReportHtml({
    title: `How does ${modelName} compute greater-than?`,
    intro:
      `A reproduction of Hanna, Liu & Variengien (2023) on ${report.dataset.yy.length} prompts "The {noun} lasted from the year XXYY to the year XX", ` +
      "corrupted prompts with start year XX01. All numbers are in report.json; each figure is also a file NAME.svg beside this page.",
    summary: { id: "summary", heading: "Summary", tables: [...summaryTables(report), ...(report.run ? [runTable(report.run)] : [])] },
    sections,
    linkFiguresLongerThan: INLINE_FIGURE_LIMIT,
  });
}
