/** Figures and tables of a greater-than report's circuit evaluations and lower circuit. */
import type { CircuitEvaluationEntry } from "../tasks/greater-than/circuit-evaluations.ts";
import { type LowerCircuitGrid, NOT_COMPUTED } from "../tasks/greater-than/lower-circuit.ts";
import type { GreaterThanCircuitReport } from "../tasks/greater-than/pipeline.ts";
import { barChart } from "./bar-chart.ts";
import { Figure } from "./figure.ts";
import { heatmap } from "./heatmap.ts";
import type { ReportTable } from "./report-html.ts";
import { sideBySide } from "./side-by-side.ts";
import { clippedProbabilityRange } from "./color-ranges.ts";
import { formatCompactNumber } from "./number-format.ts";
import { noteFigure } from "./note-figure.ts";

import { yearProbabilityHeatmap } from "./year-heatmap.ts";
const fmt = (value: number) => value.toFixed(3);

const EVALUATIONS = [
  ["paper", "paper's evaluation"],
  ["paper_reverse", "reverse (only the circuit's paths corrupted)"],
  ["full_circuit", "full circuit (stricter rule)"],
  ["upper_and_lower", "upper and lower circuit"],
] as const;

type EvaluationKey = (typeof EVALUATIONS)[number][0];

function entries(report: GreaterThanCircuitReport): [EvaluationKey, string, CircuitEvaluationEntry][] {
  const evaluations = report.circuit_evaluation;
  return EVALUATIONS.flatMap(([key, title]) => {
    const entry = evaluations[key];
    return entry ? [[key, title, entry] as [EvaluationKey, string, CircuitEvaluationEntry]] : [];
  });
}

function senderGrid(title: string, grid: LowerCircuitGrid, nLayers: number, nHeads: number, range?: [number, number]): string {
  const skipped = grid.grid.map((row) => row.map((v) => v === NOT_COMPUTED));
  return heatmap({
    ...(range ? { range } : {}),
    missingLabel: "not upstream",
    title,
    values: grid.grid.map((row) => row.map((v) => (v === NOT_COMPUTED ? null : v))),
    ...(skipped.some((row) => row.includes(true)) ? { skipped: { label: NOT_COMPUTED, cells: skipped } } : {}),
    rowLabels: Array.from({ length: nLayers }, (_, l) => `L${l}`),
    colLabels: [...Array.from({ length: nHeads }, (_, h) => `H${h}`), "MLP"],
    xLabel: "sender at YY",
    yLabel: "layer",
    colorScale: "diverging",
    valueLabel: "Δ PD",
  });
}

const hasCell = (grid: LowerCircuitGrid) => grid.grid.some((row) => row.some((v) => v !== null));

/** The evaluations' PD bars, each evaluation's heatmap beside the model's, and the lower circuit's grids. */
export function circuitEvaluationFigures(report: GreaterThanCircuitReport): Figure[] {
  return [...evaluationFigures(report), ...lowerCircuitFigures(report)];
}

/** The evaluations' PD bars and each evaluation's heatmap beside the model's, on one clipped scale. */
export function evaluationFigures(report: GreaterThanCircuitReport): Figure[] {
  const evaluations = report.circuit_evaluation;
  const members = [...evaluations.heads, ...evaluations.mlps].join(", ") || "no components";
  const figures: Figure[] = [];
  const list = entries(report);
  figures.push(
    new Figure({
      name: "circuit-evaluations",
      caption:
        `PD of the model, of the ${evaluations.source} circuit (${members}) under each evaluation, and of the corrupted prompts. ` +
        list.map(([, title, e]) => `${title}: ${fmt(e.prob_diff)} (${(100 * e.fraction_of_baseline).toFixed(1)} % of the model's)`).join("; ") + ".",
      svg: barChart({
        title: "Circuit evaluations: probability difference",
        labels: ["model", ...list.map(([key]) => key.replace(/_/g, " ")), "corrupted"],
        values: [report.baseline.prob_diff, ...list.map(([, , e]) => e.prob_diff), report.baseline.corrupted_prob_diff],
        highlight: list.map((_, i) => i + 1),
        highlightLabel: "circuit",
        otherLabel: "model / corrupted",
        yLabel: "probability difference",
      }),
    }),
  );
  const model = report.probability_heatmap.mean_probability;
  for (const [key, title, entry] of list) {
    const range = clippedProbabilityRange(model, entry.mean_probability);
    figures.push(
      new Figure({
        name: `circuit-heatmap-${key.replace(/_/g, "-")}`,
        caption:
          `Mean p(end year) per start year YY: the model (left) and the ${title} (right; ${entry.rule}), on one colour scale ` +
          `clipped at the 99th percentile of both, ${formatCompactNumber(range[1])} (yellow is high; larger values take the top colour). ` +
          `PD ${fmt(entry.prob_diff)}, CS ${fmt(entry.cutoff_sharpness)}; the model's PD ${fmt(report.baseline.prob_diff)}, CS ${fmt(report.baseline.cutoff_sharpness)}.`,
        svg: sideBySide([
          yearProbabilityHeatmap("Model", model, report.probability_heatmap.yy, range),
          yearProbabilityHeatmap(title[0]!.toUpperCase() + title.slice(1), entry.mean_probability, evaluations.yy, range),
        ], 16, `Model vs ${title}: mean p(end year) per YY`),
      }),
    );
  }
  return figures;
}

/**
 * The lower circuit's grids (senders at YY → the heads' keys, values, each MLP at YY), on `senderRange`
 * when given (the report's shared path-patching scale); a sentence instead of a grid with no sender.
 */
export function lowerCircuitFigures(report: GreaterThanCircuitReport, senderRange?: [number, number]): Figure[] {
  const { n_layers: nLayers, n_heads: nHeads } = report.model;
  const figures: Figure[] = [];
  const scale = senderRange ? ` Colour scale ±${formatCompactNumber(senderRange[1])}, shared by every path-patching figure.` : "";
  const lower = report.lower_circuit;
  if (lower.k === null || lower.v === null) {
    figures.push(noteFigure("lower-circuit", "Lower circuit at YY", lower.note ?? "No lower circuit: there are no circuit heads whose keys and values it could feed."));
  }
  const kv = report.head_input_patching.find((h) => h.channel === "kv");
  if (lower.k && lower.v) {
    const grids = [["k", "keys", lower.k], ["v", "values", lower.v]] as const;
    if (grids.some(([, , grid]) => hasCell(grid))) {
      for (const [channel, word, grid] of grids) {
        figures.push(
          new Figure({
            name: `lower-circuit-${channel}`,
            caption:
              `Path patching senders at YY → the circuit heads' ${word} at END only (${grid.receivers.join(", ")}), continuing through ${grid.continuation.join(", ") || "nothing"}: mean change of PD. ` +
              `The embedding at YY: ${grid.embed === null ? "n/a" : fmt(grid.embed)}. ` +
              `Cells marked "${NOT_COMPUTED}" (pale, with a dot) belong to senders whose keys + values effect is below ${100 * lower.kv_threshold} % of that grid's largest |effect|; hatched cells are not upstream.${scale}`,
            svg: senderGrid(`Senders at YY → circuit heads' ${word}`, grid, nLayers, nHeads, senderRange),
          }),
        );
      }
    } else {
      figures.push(
        new Figure({
          name: "lower-circuit-embedding",
          caption: `${lower.note ?? "No sender at YY is upstream of the circuit heads."} The embedding at YY through the heads' keys only, values only, and both: ` +
            `${fmt(lower.k.embed ?? 0)}, ${fmt(lower.v.embed ?? 0)}, ${kv?.embed === null || kv === undefined ? "n/a" : fmt(kv.embed)}.`,
          svg: barChart({
            title: "Embedding at YY → circuit heads' keys / values",
            labels: ["keys", "values", "keys + values"],
            values: [lower.k.embed, lower.v.embed, kv?.embed ?? null],
            yLabel: "Δ PD",
          }),
        }),
      );
    }
  }
  for (const grid of lower.mlps_at_yy) {
    const receiver = grid.receivers[0] ?? "MLP";
    figures.push(
      new Figure({
        name: `lower-circuit-${receiver.replace(/\..*$/, "").replace(/[^A-Za-z0-9]+/g, "-")}`,
        caption:
          `Path patching senders at YY → ${receiver} at YY, continuing through ${grid.continuation.join(", ")}: mean change of PD. ` +
          `The embedding at YY: ${grid.embed === null ? "n/a" : fmt(grid.embed)}.${scale}`,
        svg: senderGrid(`Senders at YY → ${receiver} at YY`, grid, nLayers, nHeads, senderRange),
      }),
    );
  }
  return figures;
}

/** The evaluations in numbers, and what the lower-circuit sections could not show. */
export function circuitEvaluationTables(report: GreaterThanCircuitReport): ReportTable[] {
  return [evaluationTable(report), lowerCircuitTable(report)];
}

export function evaluationTable(report: GreaterThanCircuitReport): ReportTable {
  const evaluations = report.circuit_evaluation;
  return {
    caption: `Circuit evaluations (${evaluations.source} circuit: ${[...evaluations.heads, ...evaluations.mlps].join(", ") || "empty"}; lower circuit ${evaluations.lower.join(", ") || "none"})`,
    headers: ["evaluation", "PD", "CS", "fraction of the model's PD", "recovered"],
    rows: entries(report).map(([, title, e]) => [title, fmt(e.prob_diff), fmt(e.cutoff_sharpness), fmt(e.fraction_of_baseline), fmt(e.recovered)]),
  };
}

export function lowerCircuitTable(report: GreaterThanCircuitReport): ReportTable {
  const lower = report.lower_circuit;
  return {
    caption: "Lower circuit at YY",
    headers: ["part", "value"],
    rows: [
      ["nodes", lower.nodes.join(", ") || "—"],
      ["embedding at YY → heads' keys", lower.k?.embed === null || lower.k === null ? "—" : fmt(lower.k.embed)],
      ["embedding at YY → heads' values", lower.v?.embed === null || lower.v === null ? "—" : fmt(lower.v.embed)],
      ["MLPs at YY patched into", lower.mlps_at_yy.map((g) => g.receivers.join(", ")).join("; ") || "—"],
      ...(lower.note ? [["note", lower.note]] : []),
    ],
  };
}
