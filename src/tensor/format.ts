/** A tensor as text, numpy-style: a header line, then the values with long axes elided. */

import type { Shape } from "./tensor.ts";

export interface FormatOptions {
  /** Above this many elements, axes longer than 2 × edgeItems show only their first and last edgeItems. */
  readonly threshold?: number;
  readonly edgeItems?: number;
  /** Digits after the decimal point. */
  readonly precision?: number;
  /** Lines of values wrap at this width. */
  readonly lineWidth?: number;
}

interface Resolved {
  readonly threshold: number;
  readonly edgeItems: number;
  readonly precision: number;
  readonly lineWidth: number;
}

const DEFAULTS: Resolved = { threshold: 256, edgeItems: 3, precision: 4, lineWidth: 120 };
const ELLIPSIS = "…";

export function formatHeader(shape: Shape): string {
  return `Tensor shape=[${shape.join(", ")}] dtype=float32`;
}

/** `Tensor shape=[2, 3] dtype=float32` and the values, e.g. `[[0.1000, …, 2.0000], …]`. */
export function formatTensor(data: Float32Array, shape: Shape, options: FormatOptions = {}): string {
  const opts: Resolved = { ...DEFAULTS, ...options };
  const summarize = data.length > opts.threshold;
  const shown = shownIndices(shape, summarize, opts.edgeItems);
  const format = numberFormat(collectShown(data, shape, shown), opts.precision);
  const body = formatAxis(data, shape, shown, format, 0, 0, " ", opts.lineWidth);
  return `${formatHeader(shape)}\n${body}`;
}

/** Per axis, the indices shown; null marks the elided run. */
function shownIndices(shape: Shape, summarize: boolean, edge: number): (number | null)[][] {
  return shape.map((dim) => {
    if (!summarize || dim <= 2 * edge) return Array.from({ length: dim }, (_, i) => i);
    return [...Array.from({ length: edge }, (_, i) => i), null, ...Array.from({ length: edge }, (_, i) => dim - edge + i)];
  });
}

function collectShown(data: Float32Array, shape: Shape, shown: (number | null)[][]): number[] {
  const values: number[] = [];
  const visit = (axis: number, offset: number): void => {
    if (axis === shape.length) {
      values.push(data[offset]!);
      return;
    }
    const stride = strideOf(shape, axis);
    for (const i of shown[axis]!) if (i !== null) visit(axis + 1, offset + i * stride);
  };
  if (data.length) visit(0, 0);
  return values;
}

function strideOf(shape: Shape, axis: number): number {
  let stride = 1;
  for (let i = axis + 1; i < shape.length; i++) stride *= shape[i]!;
  return stride;
}

/** One width and notation for every value shown, so columns line up. */
function numberFormat(values: readonly number[], precision: number): (value: number) => string {
  const finite = values.filter(Number.isFinite).map(Math.abs);
  const largest = finite.length ? Math.max(...finite) : 0;
  // Fixed notation unless it would show only zeros or very long numbers.
  const scientific = largest >= 1e8 || (largest > 0 && largest < 10 ** -precision);
  const text = (v: number): string => {
    if (Number.isNaN(v)) return "nan";
    if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
    return scientific ? v.toExponential(precision) : v.toFixed(precision);
  };
  const width = values.reduce((w, v) => Math.max(w, text(v).length), 0);
  return (value) => text(value).padStart(width);
}

function formatAxis(
  data: Float32Array,
  shape: Shape,
  shown: (number | null)[][],
  format: (value: number) => string,
  axis: number,
  offset: number,
  indent: string,
  lineWidth: number,
): string {
  if (axis === shape.length) return format(data[offset]!);
  const stride = strideOf(shape, axis);
  const items = shown[axis]!;
  if (axis === shape.length - 1) {
    const cells = items.map((i) => (i === null ? ELLIPSIS : format(data[offset + i]!)));
    return `[${wrap(cells, indent, lineWidth)}]`;
  }
  const parts = items.map((i) =>
    i === null ? ELLIPSIS : formatAxis(data, shape, shown, format, axis + 1, offset + i * stride, `${indent} `, lineWidth),
  );
  const separator = `,${"\n".repeat(shape.length - axis - 1)}${indent}`;
  return `[${parts.join(separator)}]`;
}

function wrap(cells: readonly string[], indent: string, lineWidth: number): string {
  const lines: string[] = [];
  let line = "";
  for (const cell of cells) {
    const next = line ? `${line}, ${cell}` : cell;
    if (line && indent.length + next.length + 2 > lineWidth) {
      lines.push(`${line},`);
      line = cell;
    } else {
      line = next;
    }
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
}
