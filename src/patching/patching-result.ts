import { shapeSize, type Tensor } from "../tensor/tensor.ts";
import { PatchingError } from "./patching-error.ts";
import { divergingColor, escapeHtml } from "./html-grid.ts";

/** `Symbol.for("Jupyter.display")`, the rich-display hook of Jupyter JavaScript kernels (Deno's). */
export const JUPYTER_DISPLAY = Symbol.for("Jupyter.display");

export type PatchComponent =
  | "resid_pre" | "resid_mid" | "resid_post" | "attn_out" | "mlp_out"
  | "z" | "q" | "k" | "v" | "pattern";

/** How the patched slices are enumerated: one variant per (layer, pos), (layer, head) or (layer, pos, head). */
export type PatchGrouping = "layer_pos" | "layer_head" | "layer_pos_head";

/** The groupings each component supports (as in TransformerLens' `get_act_patch_*` functions). */
export type PatchGroupingFor<C extends PatchComponent> = C extends "z" | "q" | "k" | "v"
  ? "layer_head" | "layer_pos_head"
  : C extends "pattern"
    ? "layer_head"
    : "layer_pos";

export type PatchDirection = "denoising" | "noising";

/**
 * How a result was computed: "activation", the metric of each patched run (exact); "attribution",
 * its linear estimate from one gradient, as the change of the metric from the base run's.
 */
export type PatchMethod = "activation" | "attribution";

/** A metric value: a scalar, or a flat array / tensor whose shape becomes the result's trailing axes. */
export type MetricValue = number | readonly number[];

export interface PatchingResultInit {
  readonly values: Tensor;
  readonly axes: readonly string[];
  readonly labels: readonly (readonly string[])[];
  readonly gridRank: number;
  readonly component: PatchComponent;
  readonly by: PatchGrouping;
  readonly direction: PatchDirection;
  readonly baseline: { readonly clean: MetricValue; readonly corrupted: MetricValue };
  /** Default "activation". */
  readonly method?: PatchMethod;
}

/**
 * The metric of every patched run: `values` is [...grid, ...metricShape], e.g. [layer, pos] for a
 * scalar metric of resid_pre by layer_pos, or [layer, head, batch, 100] for a per-prompt vector.
 * With `method` "attribution" a value is instead the estimated change of the (scalar) metric from
 * the base run's (the corrupted run's when denoising, the clean run's when noising).
 */
export class PatchingResult {
  readonly values: Tensor;
  /** One name per axis of `values`: "layer", "pos", "head", then "metric" (or "metric0", "metric1", …). */
  readonly axes: readonly string[];
  /** Tick labels per axis: "L0".., "H0".., positions "0", "1", …, metric indices "0", "1", …. */
  readonly labels: readonly (readonly string[])[];
  /** How many leading axes index the patched variant (2 or 3). */
  readonly gridRank: number;
  readonly component: PatchComponent;
  readonly by: PatchGrouping;
  readonly direction: PatchDirection;
  /** Metric of the unpatched clean and corrupted runs. */
  readonly baseline: { readonly clean: MetricValue; readonly corrupted: MetricValue };
  /** "activation": values are patched runs' metrics; "attribution": linear estimates of their change from the base run's. */
  readonly method: PatchMethod;

  constructor(init: PatchingResultInit) {
    this.values = init.values;
    this.axes = Object.freeze([...init.axes]);
    this.labels = Object.freeze(init.labels.map((l) => Object.freeze([...l])));
    this.gridRank = init.gridRank;
    this.component = init.component;
    this.by = init.by;
    this.direction = init.direction;
    this.baseline = init.baseline;
    this.method = init.method ?? "activation";
  }

  /** The metric of the run the patches are made in: the corrupted run's when denoising, the clean run's when noising. */
  get base(): MetricValue {
    return this.direction === "denoising" ? this.baseline.corrupted : this.baseline.clean;
  }

  /** Shape of the patch grid: [layer, pos], [layer, head] or [layer, pos, head]. */
  get gridShape(): readonly number[] {
    return this.values.shape.slice(0, this.gridRank);
  }

  /** Shape of one metric value ([] for a scalar metric). */
  get metricShape(): readonly number[] {
    return this.values.shape.slice(this.gridRank);
  }

  /**
   * The name of a grid cell: "L3H7" (layer_head), "L3@5" (layer_pos), "L3H7@5" (layer_pos_head),
   * in the style of `nodeLabel` ("component@pos").
   */
  label(...index: number[]): string {
    const shape = this.gridShape;
    if (index.length !== shape.length || index.some((i, axis) => !Number.isInteger(i) || i < 0 || i >= shape[axis]!)) {
      throw new PatchingError(
        "bad_index",
        `label(${index.join(", ")}): expected ${shape.length} indices within the grid [${shape.join(", ")}]`,
      );
    }
    const [layer, second, third] = index as [number, number, number | undefined];
    if (this.by === "layer_head") return `L${layer}H${second}`;
    if (this.by === "layer_pos") return `L${layer}@${second}`;
    return `L${layer}H${third}@${second}`;
  }

  /** The metric of one grid cell: a number for a scalar metric, else its flat values. */
  at(...index: number[]): number | number[] {
    this.label(...index);
    const size = shapeSize(this.metricShape);
    let flat = 0;
    index.forEach((i, axis) => (flat = flat * this.values.shape[axis]! + i));
    const slice = Array.from(this.values.data.subarray(flat * size, (flat + 1) * size));
    return this.metricShape.length === 0 ? slice[0]! : slice;
  }

  /** A heatmap table for Jupyter (Deno kernel); vector metrics are shown by their mean. */
  [JUPYTER_DISPLAY](): { "text/html": string } {
    return { "text/html": this.toHtml() };
  }

  toHtml(): string {
    const grid = this.gridShape;
    const cols = grid[grid.length - 1]!;
    const rows = shapeSize(grid) / cols;
    const metricSize = shapeSize(this.metricShape);
    const cell = (flat: number): number => {
      let total = 0;
      for (let i = 0; i < metricSize; i++) total += this.values.data[flat * metricSize + i]!;
      return total / metricSize;
    };
    let maxAbs = 0;
    for (let i = 0; i < rows * cols; i++) {
      const v = Math.abs(cell(i));
      if (Number.isFinite(v)) maxAbs = Math.max(maxAbs, v);
    }
    const rowLabel = (r: number): string => {
      if (grid.length === 2) return this.labels[0]![r]!;
      const inner = grid[1]!;
      return `${this.labels[0]![Math.floor(r / inner)]} pos ${this.labels[1]![r % inner]}`;
    };
    const colAxis = this.axes[grid.length - 1]!;
    const th = "padding:2px 6px;font-weight:600;text-align:center";
    let html = `<table style="border-collapse:collapse;font:11px monospace">`;
    const caption =
      (this.method === "attribution"
        ? `attribution patching (${this.direction}; linear estimate of the metric's change) of ${this.component} by ${this.by}`
        : `${this.direction} patching of ${this.component} by ${this.by}`) +
      (metricSize > 1 ? ` (mean over ${metricSize} metric values)` : "");
    html += `<caption style="caption-side:top;text-align:left;padding:2px">${escapeHtml(caption)}</caption>`;
    html += `<tr><th style="${th}"></th>`;
    for (let c = 0; c < cols; c++) html += `<th style="${th}">${escapeHtml(`${colAxis} ${this.labels[grid.length - 1]![c]}`)}</th>`;
    html += "</tr>";
    for (let r = 0; r < rows; r++) {
      html += `<tr><th style="${th};text-align:right">${escapeHtml(rowLabel(r))}</th>`;
      for (let c = 0; c < cols; c++) {
        const v = cell(r * cols + c);
        const color = divergingColor(maxAbs === 0 ? 0 : v / maxAbs);
        const text = Number.isFinite(v) ? v.toPrecision(3) : String(v);
        const gridIndex = grid.length === 2 ? [r, c] : [Math.floor(r / grid[1]!), r % grid[1]!, c];
        html += `<td title="${escapeHtml(`${this.label(...gridIndex)}: ${v}`)}" style="padding:2px 6px;text-align:right;background:${color}">${escapeHtml(text)}</td>`;
      }
      html += "</tr>";
    }
    return `${html}</table>`;
  }
}
