/** The 100-year probability heatmap: start year YY (rows) × predicted end year 00…99 (columns). */
import { heatmap } from "./heatmap.ts";

export const YEAR_LABELS = Array.from({ length: 100 }, (_, y) => String(y).padStart(2, "0"));

export function yearProbabilityHeatmap(title: string, values: readonly (readonly number[])[], yy: readonly number[], range: [number, number]): string {
  return heatmap({
    title,
    values,
    rowLabels: yy.map((y) => String(y).padStart(2, "0")),
    colLabels: YEAR_LABELS,
    xLabel: "predicted year YY'",
    yLabel: "start year YY",
    colorScale: "sequential",
    range,
    valueLabel: "probability",
  });
}
