/** Figures of the greater-than report's component analyses (attention, head logit lens, PCA, neurons). */

import type { ComponentAnalysesReport } from "../tasks/greater-than/component-analyses.ts";
import { barChart } from "./bar-chart.ts";
import { Figure } from "./figure.ts";
import { heatmap } from "./heatmap.ts";
import { lineChart } from "./line-chart.ts";
import { noteFigure } from "./note-figure.ts";
import type { ReportTable } from "./report-html.ts";
import { scatterChart } from "./scatter-chart.ts";

const YEAR_LABELS = Array.from({ length: 100 }, (_, y) => String(y).padStart(2, "0"));
const yyLabels = (yy: readonly number[]) => yy.map((y) => String(y).padStart(2, "0"));
const pct = (v: number) => `${(100 * v).toFixed(1)} %`;

function yyYearHeatmap(title: string, yy: readonly number[], values: number[][], valueLabel: string): string {
  return heatmap({ title, values, rowLabels: yyLabels(yy), colLabels: YEAR_LABELS, xLabel: "year token", yLabel: "start year YY", colorScale: "diverging", valueLabel });
}

export function attentionFigures(report: ComponentAnalysesReport): Figure[] {
  const { attention_patterns: patterns, attention_by_yy: byYy } = report;
  if (patterns.heads.length === 0) {
    return [noteFigure("attention-patterns", "Attention patterns of the circuit heads", "No attention patterns: the circuit has no heads.")];
  }
  const figures = patterns.heads.map((h) =>
    new Figure({
      name: `attention-pattern-${h.head}`,
      caption:
        `Mean attention pattern of ${h.head} over the clean prompts: each row is a query position, each column a key position ` +
        "(grey: later positions a causal head cannot see). The paper's circuit heads attend from END to YY.",
      svg: heatmap({
        title: `Attention pattern of ${h.head}`,
        values: h.pattern,
        rowLabels: patterns.positions,
        colLabels: patterns.positions,
        xLabel: "key position",
        yLabel: "query position",
        colorScale: "sequential",
        range: [0, 1],
        valueLabel: "attention",
        missingLabel: "later (masked)",
      }),
    }),
  );
  figures.push(
    new Figure({
      name: "attention-end-to-yy-by-yy",
      caption: "Mean attention from END to the YY token of each circuit head, per start year YY: whether the heads find YY whatever its value.",
      svg: lineChart({
        title: "Attention END → YY per YY",
        x: byYy.yy,
        series: byYy.heads.map((name, i) => ({ name, values: byYy.attention[i]! })),
        xLabel: "start year YY",
        yLabel: "attention",
      }),
    }),
  );
  return figures;
}

export function headLensFigures(report: ComponentAnalysesReport): Figure[] {
  if (report.head_logit_lens.length === 0) {
    return [noteFigure("head-logit-lens", "Logit lens of the circuit heads", "No head logit lens: the circuit has no heads.")];
  }
  return report.head_logit_lens.map((lens) =>
    new Figure({
      name: `head-logit-lens-${lens.head}`,
      caption:
        `Logit lens of ${lens.head}'s output at END (ln_final scale of the clean run frozen): what this head alone writes to each year token, ` +
        "per start year YY, centred per row. The paper finds the heads move YY without computing greater-than: no sharp edge at the diagonal.",
      svg: yyYearHeatmap(`Logit lens of ${lens.head}`, lens.yy, lens.year_logits, "logit"),
    }),
  );
}

export function pcaFigures(report: ComponentAnalysesReport): Figure[] {
  const pca = report.year_pca;
  return pca.panels.map((panel) => {
    const name = `year-pca-${panel.name.replace(/_/g, "-")}`;
    if (panel.points === null) return noteFigure(name, `PCA of ${panel.what}`, `No PCA of ${panel.what}: ${panel.missing}.`);
    const [v1, v2] = panel.explained_variance!;
    return new Figure({
      name,
      caption:
        `PCA of ${panel.what}, one prompt per YY 02…98 (" ${pca.noun}", the ${pca.century}00s), coloured by YY. ` +
        `PC1 explains ${pct(v1)} and PC2 ${pct(v2)} of the variance; an ordered curve means the representation keeps YY's order.`,
      svg: scatterChart({
        title: `PCA of ${panel.what}`,
        x: panel.points.map((p) => p[0]),
        y: panel.points.map((p) => p[1]),
        colorValues: pca.yy,
        colorLabel: "YY",
        pointLabels: pca.yy.map((y) => `YY ${String(y).padStart(2, "0")}`),
        xLabel: `PC1 (${pct(v1)})`,
        yLabel: `PC2 (${pct(v2)})`,
      }),
    });
  });
}

export function neuronFigures(report: ComponentAnalysesReport): Figure[] {
  const neurons = report.neurons;
  if (neurons === null) return [noteFigure("neurons", "Neurons", "No neuron analysis: the model has no MLP among its last four layers.")];
  const figures: Figure[] = [];
  for (const h of neurons.heatmaps) {
    figures.push(
      new Figure({
        name: `neuron-${neurons.layer}-${h.neuron}-dla`,
        caption:
          `${neurons.mlp} neuron ${h.neuron}: its clean activation × (W_out · W_U) at END, W_U with ln_final's weight folded in and the clean ` +
          "ln_final scale divided out (neuronDla with applyLn), mean per start year YY, centred per row.",
        svg: yyYearHeatmap(`L${neurons.layer}N${h.neuron}: activation × W_out·W_U`, neurons.yy, h.dla, "logit"),
      }),
      new Figure({
        name: `neuron-${neurons.layer}-${h.neuron}-patching`,
        caption:
          `${neurons.mlp} neuron ${h.neuron} by direct-path patching: change of each year's logit when the neuron takes its corrupted (XX01) ` +
          "activation and the change reaches the logits only directly (ln_final scale frozen), mean per YY, centred per row.",
        svg: yyYearHeatmap(`L${neurons.layer}N${h.neuron}: direct-path patching`, neurons.yy, h.patching, "Δ logit"),
      }),
    );
  }
  const { together } = neurons;
  figures.push(
    new Figure({
      name: "neurons-together-vs-sum",
      caption:
        `The top ${together.k} neurons of ${neurons.mlp} patched together vs the sum of their single effects; metric: ${neurons.metric}. ` +
        "A gap means the neurons' effects interact through ln_final's scale.",
      svg: barChart({
        title: `Top ${together.k} neurons of ${neurons.mlp}: together vs sum`,
        labels: ["together", "sum of singles"],
        values: [together.together, together.sum_of_singles],
        yLabel: "Δ year-logit difference",
      }),
    }),
    new Figure({
      name: "neurons-cumulative",
      caption:
        `Effect of patching the top n neurons of ${neurons.mlp} together (ranked by their single direct-path effect), n = 1…${neurons.cumulative.n.length}; ` +
        `metric: ${neurons.metric}. A curve that saturates early means a few neurons carry greater-than; a steady climb means many do.`,
      svg: lineChart({
        title: `Cumulative effect of the top neurons of ${neurons.mlp}`,
        x: neurons.cumulative.n,
        series: [{ name: neurons.mlp, values: neurons.cumulative.effect }],
        xLabel: "neurons patched (top n)",
        yLabel: "Δ year-logit difference",
      }),
    }),
  );
  return figures;
}

/** The component-analysis figures, in the paper's order: attention, head logit lens, PCA, neurons. */
export function componentFigures(report: ComponentAnalysesReport): Figure[] {
  return [...attentionFigures(report), ...headLensFigures(report), ...pcaFigures(report), ...neuronFigures(report)];
}

/** Report tables: PCA explained variance and the neurons' together-vs-sum numbers. */
export function componentTables(report: ComponentAnalysesReport): ReportTable[] {
  return [pcaTable(report), ...neuronTables(report)];
}

export function pcaTable(report: ComponentAnalysesReport): ReportTable {
  return {
    caption: `PCA of year representations (" ${report.year_pca.noun}", ${report.year_pca.century}02…${report.year_pca.century}98): explained variance`,
    headers: ["representation", "PC1", "PC2"],
    rows: report.year_pca.panels.map((p) =>
      p.explained_variance ? [p.what, pct(p.explained_variance[0]), pct(p.explained_variance[1])] : [p.what, `— (${p.missing})`, "—"],
    ),
  };
}

export function neuronTables(report: ComponentAnalysesReport): ReportTable[] {
  const tables: ReportTable[] = [];
  if (report.neurons) {
    const { together, cumulative, mlp } = report.neurons;
    tables.push({
      caption: `Neurons of ${mlp} (Δ year-logit difference, direct path, ln_final recomputed)`,
      headers: ["quantity", "value"],
      rows: [
        [`top ${together.k} together`, together.together.toFixed(4)],
        [`sum of their single effects`, together.sum_of_singles.toFixed(4)],
        [`top ${cumulative.n.length} together`, (cumulative.effect[cumulative.effect.length - 1] ?? 0).toFixed(4)],
      ],
    });
  }
  return tables;
}
