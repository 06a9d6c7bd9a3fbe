import type { EdgeAttributionReport } from "../tasks/greater-than/edge-circuit.ts";
import { Figure } from "./figure.ts";
import { lineChart } from "./line-chart.ts";
import type { ReportTable } from "./report-html.ts";
import { scatterChart } from "./scatter-chart.ts";

/** Pearson's correlation of two equally long lists (NaN with fewer than two points or no spread). */
export function pearsonCorrelation(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (n < 2) return Number.NaN;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

const methodName = (report: EdgeAttributionReport) => (report.method === "eap" ? "EAP" : `EAP-IG (${report.steps} steps)`);

/** The faithfulness curve and the edge scores beside path patching's grids. */
export function edgeAttributionFigures(report: EdgeAttributionReport): Figure[] {
  const method = methodName(report);
  const figures = [
    new Figure({
      name: "edge-faithfulness",
      caption:
        `Exact PD of the circuit of the top k ${method} edges (pruned to edges on a path from the embedding to the logits; every input ` +
        `of a node is its in-circuit edges' circuit values plus its other edges' corrupted values), as a fraction of the model's PD.`,
      svg: lineChart({
        title: `Faithfulness of ${method} circuits`,
        x: report.faithfulness.map((p) => p.k),
        series: [
          { name: "PD / model PD", values: report.faithfulness.map((p) => p.fraction) },
          { name: "recovered", values: report.faithfulness.map((p) => p.recovered) },
        ],
        xLabel: "top k edges",
        yLabel: "fraction",
      }),
    }),
  ];
  const pairs = report.comparison;
  if (pairs.length >= 2) {
    const x = pairs.map((p) => p.path_patching);
    const y = pairs.map((p) => p.edge_score);
    figures.push(
      new Figure({
        name: "edge-scores-vs-path-patching",
        caption:
          `Each cell of the path-patching grids (exact Δ PD of one sender at one position → receiver) beside the ${method} score of the same ` +
          `sender → receiver channel(s), summed over positions. Pearson r = ${pearsonCorrelation(x, y).toFixed(3)} over ${pairs.length} pairs.`,
        svg: scatterChart({
          title: `${method} scores vs path patching`,
          x, y,
          pointLabels: pairs.map((p) => `${p.sender} → ${p.receiver}`),
          xLabel: "path patching Δ PD",
          yLabel: `${method} score`,
        }),
      }),
    );
  }
  return figures;
}

export function edgeAttributionTables(report: EdgeAttributionReport): ReportTable[] {
  return [{
    caption: `Circuit of the top ${report.edges_asked} ${methodName(report)} edges (of ${report.total_edges}), evaluated exactly`,
    headers: ["part", "value"],
    rows: [
      ["edges kept", String(report.edges.length)],
      ["heads", report.heads.join(", ") || "—"],
      ["MLPs", report.mlps.join(", ") || "—"],
      ["circuit PD", report.prob_diff.toFixed(3)],
      ["fraction of the model's PD", report.fraction_of_baseline.toFixed(3)],
      ["strongest edges", report.edges.slice(0, 10).map((e) => `${e.edge} (${e.score.toFixed(3)})`).join("; ") || "—"],
    ],
  }];
}
