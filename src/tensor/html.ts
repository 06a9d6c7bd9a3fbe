/**
 * A tensor as notebook HTML: a table of its values when small and at most 2-D, heatmaps of its
 * leading 2-D slices (the last two axes) when those are of a drawable size, a summary otherwise.
 * Self-contained (inline styles and SVG) and free of src/viz, which sits above tensor/ in the layers.
 */

import { formatHeader, formatTensor } from "./format.ts";
import type { Shape } from "./tensor.ts";

const TABLE_MAX_CELLS = 400;
const TABLE_MAX_COLS = 32;
const HEATMAP_MAX_CELLS = 128 * 128;
const HEATMAP_MAX_SLICES = 4;
const HEATMAP_TARGET_PX = 360;

const STYLE_TABLE = "border-collapse:collapse;font:12px monospace";
const STYLE_CELL = "border:1px solid #ddd;padding:2px 6px;text-align:right";
const STYLE_INDEX = "border:1px solid #ddd;padding:2px 6px;color:#888;background:#f7f7f7";

export function tensorHtml(data: Float32Array, shape: Shape): string {
  const header = `<div style="font:12px monospace;color:#555">${formatHeader(shape)}</div>`;
  const rank = shape.length;
  const cols = shape[rank - 1] ?? 1;
  if (rank <= 2 && data.length <= TABLE_MAX_CELLS && cols <= TABLE_MAX_COLS) return header + valueTable(data, shape);
  if (rank >= 2 && shape[rank - 2]! * cols <= HEATMAP_MAX_CELLS && data.length > 0) return header + heatmaps(data, shape);
  return header + summary(data, shape);
}

function cellText(v: number): string {
  return Number.isNaN(v) ? "nan" : Number.isFinite(v) ? v.toFixed(4) : v > 0 ? "inf" : "-inf";
}

function valueTable(data: Float32Array, shape: Shape): string {
  const [rows, cols] = shape.length === 2 ? [shape[0]!, shape[1]!] : [1, shape[0] ?? 1];
  const head = `<tr><th style="${STYLE_INDEX}"></th>${Array.from({ length: cols }, (_, c) => `<th style="${STYLE_INDEX}">${c}</th>`).join("")}</tr>`;
  const body = Array.from({ length: rows }, (_, r) => {
    const cells = Array.from({ length: cols }, (_, c) => `<td style="${STYLE_CELL}">${cellText(data[r * cols + c]!)}</td>`);
    return `<tr><th style="${STYLE_INDEX}">${shape.length === 2 ? r : ""}</th>${cells.join("")}</tr>`;
  });
  return `<table style="${STYLE_TABLE}">${head}${body.join("")}</table>`;
}

function finiteRange(values: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return lo > hi ? [0, 0] : [lo, hi];
}

/** White → blue for values of one sign (e.g. attention patterns), blue – white – red around 0 otherwise. */
function colorScale([lo, hi]: [number, number]): (v: number) => string {
  const mix = (t: number, to: readonly [number, number, number]): string => {
    const c = to.map((x) => Math.round(255 + (x - 255) * Math.min(Math.max(t, 0), 1)));
    return `rgb(${c.join(",")})`;
  };
  if (lo < 0 && hi > 0) {
    const extent = Math.max(-lo, hi);
    return (v) => (Number.isFinite(v) ? (v < 0 ? mix(-v / extent, [33, 102, 172]) : mix(v / extent, [178, 24, 43])) : "#999");
  }
  const [from, span] = hi <= 0 ? [hi, lo - hi] : [lo, hi - lo];
  return (v) => (Number.isFinite(v) ? mix(span === 0 ? 1 : (v - from) / span, [8, 48, 107]) : "#999");
}

function heatmaps(data: Float32Array, shape: Shape): string {
  const rank = shape.length;
  const rows = shape[rank - 2]!;
  const cols = shape[rank - 1]!;
  const plane = rows * cols;
  const planes = data.length / plane;
  const leading = shape.slice(0, rank - 2);
  const color = colorScale(finiteRange(data));
  const cell = Math.min(24, Math.max(2, Math.floor(HEATMAP_TARGET_PX / Math.max(rows, cols))));
  const shown = Math.min(planes, HEATMAP_MAX_SLICES);
  const figures = Array.from({ length: shown }, (_, p) => {
    const label = `[${[...unravel(p, leading), ":", ":"].join(", ")}]`;
    const rects: string[] = [];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const v = data[p * plane + r * cols + c]!;
        rects.push(
          `<rect x="${c * cell}" y="${r * cell}" width="${cell}" height="${cell}" fill="${color(v)}"><title>[${r}, ${c}] ${cellText(v)}</title></rect>`,
        );
      }
    }
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * cell}" height="${rows * cell}" style="border:1px solid #ccc">${rects.join("")}</svg>`;
    return `<figure style="display:inline-block;margin:4px 8px"><figcaption style="font:12px monospace">${label}</figcaption>${svg}</figure>`;
  });
  const more = planes > shown ? `<div style="font:12px monospace;color:#555">… ${planes - shown} more slices</div>` : "";
  const [lo, hi] = finiteRange(data);
  const legend = `<div style="font:12px monospace;color:#555">rows: axis ${rank - 2}, columns: axis ${rank - 1}; values ${cellText(lo)} … ${cellText(hi)} (hover a cell for its value)</div>`;
  return `<div>${figures.join("")}</div>${more}${legend}`;
}

function unravel(flat: number, shape: Shape): number[] {
  const index = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    index[i] = flat % shape[i]!;
    flat = Math.floor(flat / shape[i]!);
  }
  return index;
}

function summary(data: Float32Array, shape: Shape): string {
  const [lo, hi] = finiteRange(data);
  let total = 0;
  for (const v of data) total += v;
  const stats = data.length ? `<div style="font:12px monospace;color:#555">min ${cellText(lo)}, max ${cellText(hi)}, mean ${cellText(total / data.length)}</div>` : "";
  const preview = formatTensor(data, shape).split("\n").slice(1).join("\n");
  return `${stats}<pre style="font:12px monospace">${preview}</pre>`;
}
