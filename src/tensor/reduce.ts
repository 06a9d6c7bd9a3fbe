/**
 * Reductions over axes, numpy's semantics: sum, mean, max, min over one axis, several or all
 * (negative axes count from the end; keepdims keeps reduced axes with size 1), and argmax / argmin
 * over one axis or the flattened tensor. NaN propagates through max/min and wins argmax/argmin, as
 * in numpy; ties go to the first index.
 */

import { InputError } from "../errors.ts";
import { normalizeAxes, normalizeAxis } from "./axes.ts";
import { shapeSize, shapeToString, Tensor } from "./tensor.ts";

/** One axis, a list of axes, or null for all of them. */
export type Axes = number | readonly number[] | null;

type Kind = "sum" | "mean" | "max" | "min";

function reduce(x: Tensor, kind: Kind, axes: Axes, keepdims: boolean): Tensor {
  const reduced = axes === null ? x.shape.map((_, i) => i) : normalizeAxes(x.shape, axes, kind);
  const isReduced = x.shape.map((_, i) => reduced.includes(i));
  const count = shapeSize(reduced.map((axis) => x.shape[axis]!));
  if (count === 0 && (kind === "max" || kind === "min")) {
    throw new InputError(`${kind}: reduction over an empty axis of shape ${shapeToString(x.shape)}`, "empty_reduction");
  }
  const outShape = x.shape.flatMap((dim, i) => (isReduced[i] ? (keepdims ? [1] : []) : [dim]));
  const outStrides = new Array<number>(x.rank).fill(0);
  let stride = 1;
  for (let i = x.rank - 1; i >= 0; i--) {
    if (isReduced[i]) continue;
    outStrides[i] = stride;
    stride *= x.shape[i]!;
  }
  const initial = kind === "max" ? -Infinity : kind === "min" ? Infinity : 0;
  const acc = new Float64Array(shapeSize(outShape)).fill(initial);
  const index = new Array<number>(x.rank).fill(0);
  let out = 0;
  for (let flat = 0; flat < x.size; flat++) {
    const v = x.data[flat]!;
    if (kind === "max") {
      if (v > acc[out]! || Number.isNaN(v)) acc[out] = v;
    } else if (kind === "min") {
      if (v < acc[out]! || Number.isNaN(v)) acc[out] = v;
    } else {
      acc[out] += v;
    }
    // Advance the multi-index and the output offset with it (odometer order = row-major).
    for (let axis = x.rank - 1; axis >= 0; axis--) {
      index[axis]!++;
      out += outStrides[axis]!;
      if (index[axis]! < x.shape[axis]!) break;
      out -= outStrides[axis]! * index[axis]!;
      index[axis] = 0;
    }
  }
  if (kind === "mean") for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / count;
  return new Tensor(Float32Array.from(acc), outShape);
}

export function sum(x: Tensor): number;
export function sum(x: Tensor, axis: Axes, keepdims?: boolean): Tensor;
export function sum(x: Tensor, axis?: Axes, keepdims = false): Tensor | number {
  return axis === undefined ? reduce(x, "sum", null, false).data[0]! : reduce(x, "sum", axis, keepdims);
}

export function mean(x: Tensor): number;
export function mean(x: Tensor, axis: Axes, keepdims?: boolean): Tensor;
export function mean(x: Tensor, axis?: Axes, keepdims = false): Tensor | number {
  return axis === undefined ? reduce(x, "mean", null, false).data[0]! : reduce(x, "mean", axis, keepdims);
}

export function max(x: Tensor): number;
export function max(x: Tensor, axis: Axes, keepdims?: boolean): Tensor;
export function max(x: Tensor, axis?: Axes, keepdims = false): Tensor | number {
  return axis === undefined ? reduce(x, "max", null, false).data[0]! : reduce(x, "max", axis, keepdims);
}

export function min(x: Tensor): number;
export function min(x: Tensor, axis: Axes, keepdims?: boolean): Tensor;
export function min(x: Tensor, axis?: Axes, keepdims = false): Tensor | number {
  return axis === undefined ? reduce(x, "min", null, false).data[0]! : reduce(x, "min", axis, keepdims);
}

function argExtreme(x: Tensor, kind: "argmax" | "argmin", axis: number | undefined, keepdims: boolean): Tensor | number {
  const better = kind === "argmax" ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
  const pick = (offset: number, length: number, step: number): number => {
    let best = 0;
    let bestValue = x.data[offset]!;
    for (let i = 1; i < length && !Number.isNaN(bestValue); i++) {
      const v = x.data[offset + i * step]!;
      if (better(v, bestValue) || Number.isNaN(v)) {
        best = i;
        bestValue = v;
      }
    }
    return best;
  };
  if (axis === undefined) {
    if (x.size === 0) throw new InputError(`${kind}: the tensor is empty`, "empty_reduction");
    return pick(0, x.size, 1);
  }
  const a = normalizeAxis(x.shape, axis, kind);
  const dim = x.shape[a]!;
  const outer = shapeSize(x.shape.slice(0, a));
  const inner = shapeSize(x.shape.slice(a + 1));
  const outShape = keepdims ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
  const out = new Float32Array(outer * inner);
  if (out.length && dim === 0) throw new InputError(`${kind}: axis ${axis} of shape ${shapeToString(x.shape)} is empty`, "empty_reduction");
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) out[o * inner + i] = pick(o * dim * inner + i, dim, inner);
  }
  return new Tensor(out, outShape);
}

/** Index of the largest value: of the flattened tensor (a number), or along `axis` (a tensor of indices). */
export function argmax(x: Tensor): number;
export function argmax(x: Tensor, axis: number, keepdims?: boolean): Tensor;
export function argmax(x: Tensor, axis?: number, keepdims = false): Tensor | number {
  return argExtreme(x, "argmax", axis, keepdims);
}

/** Index of the smallest value: of the flattened tensor (a number), or along `axis` (a tensor of indices). */
export function argmin(x: Tensor): number;
export function argmin(x: Tensor, axis: number, keepdims?: boolean): Tensor;
export function argmin(x: Tensor, axis?: number, keepdims = false): Tensor | number {
  return argExtreme(x, "argmin", axis, keepdims);
}
