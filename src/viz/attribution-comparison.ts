/**
 * Attribution patching beside exact activation patching of the same component and grouping: both
 * results, the Pearson correlation of their per-cell changes of the metric, and a scatter of one
 * against the other with the line y = x, where the points that leave the line are the patches the
 * linear approximation gets wrong.
 */
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import { activationPatching } from "../patching/activation-patching.ts";
import { type AttributionPatchingOptions, attributionPatching, patchingMetricOf } from "../patching/attribution-patching.ts";
import type { PatchComponent, PatchingResult } from "../patching/patching-result.ts";
import { Figure } from "./figure.ts";
import { JUPYTER_DISPLAY, type JupyterDisplayable, type MimeBundle } from "./jupyter-display.ts";
import { scatterChart } from "./scatter-chart.ts";

export interface AttributionComparisonOptions<C extends PatchComponent = PatchComponent> extends AttributionPatchingOptions<C> {
  /** activationPatching's maxBatchRows (prompt rows per forward pass). */
  readonly maxBatchRows?: number;
}

export interface AttributionComparison extends JupyterDisplayable {
  /** attributionPatching's result: estimated changes of the metric. */
  readonly attribution: PatchingResult;
  /** activationPatching's result for the same options and direction: patched runs' metrics. */
  readonly activation: PatchingResult;
  /** Per grid cell (row-major, as the results' values), the exact change: activation's value − its base run's metric. */
  readonly exactChange: Float64Array;
  /** Pearson correlation of exactChange and the attribution values over the cells; NaN when either is constant. */
  readonly correlation: number;
  /** Attribution (y) against the exact change (x), one point per cell, with y = x. */
  readonly figure: Figure;
}

/** Pearson's r of two equally long samples; NaN when either has no variance. */
export function pearsonCorrelation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let meanX = 0, meanY = 0;
  for (let i = 0; i < n; i++) {
    meanX += x[i]! / n;
    meanY += y[i]! / n;
  }
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - meanX, dy = y[i]! - meanY;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

function cellLabels(result: PatchingResult): string[] {
  const shape = result.gridShape;
  const count = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, (_, flat) => {
    const index: number[] = [];
    for (let axis = shape.length - 1, rest = flat; axis >= 0; axis--) {
      index.unshift(rest % shape[axis]!);
      rest = Math.floor(rest / shape[axis]!);
    }
    return result.label(...index);
  });
}

/**
 * Runs attributionPatching and activationPatching (with the metric's own value of the logits, and
 * the same direction: noising unless told) and puts their changes of the metric side by side.
 */
export function compareAttributionToActivationPatching<C extends PatchComponent>(
  model: HookedGpt2,
  options: AttributionComparisonOptions<C>,
): AttributionComparison {
  const { maxBatchRows, ...attributionOptions } = options;
  const attribution = attributionPatching(model, attributionOptions);
  const { metric, logitPositions } = patchingMetricOf(model, options.metric, options.clean);
  const activation = activationPatching(model, {
    component: options.component, by: options.by, clean: options.clean, corrupted: options.corrupted,
    direction: attribution.direction, metric, logitPositions,
    ...(maxBatchRows !== undefined ? { maxBatchRows } : {}),
  });
  const base = activation.base as number;
  const exactChange = Float64Array.from(activation.values.data, (v) => v - base);
  const estimate = Array.from(attribution.values.data);
  const correlation = pearsonCorrelation(exactChange, estimate);
  const what = `${attribution.component} by ${attribution.by}, ${attribution.direction}`;
  const svg = scatterChart({
    title: `Attribution vs activation patching (${what})`,
    x: Array.from(exactChange),
    y: estimate,
    pointLabels: cellLabels(attribution),
    xLabel: "activation patching: change of the metric",
    yLabel: "attribution patching: estimate",
    identityLine: true,
  });
  const figure = new Figure({
    name: `attribution-vs-activation-${attribution.component}-${attribution.by}`,
    svg,
    caption:
      `Each point is one patch of ${what}: its exact change of the metric (x) and attribution patching's linear estimate (y). ` +
      `Points on the dashed line y = x are where the approximation holds. Pearson r = ${Number.isNaN(correlation) ? "undefined (a constant side)" : correlation.toFixed(3)}.`,
  });
  return {
    attribution, activation, exactChange, correlation, figure,
    [JUPYTER_DISPLAY]: (): MimeBundle => figure[JUPYTER_DISPLAY](),
  };
}
