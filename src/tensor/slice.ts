/**
 * numpy-style basic indexing: `slice(t, [0, [2, -1], null])` is numpy's `t[0, 2:-1, :]`. One entry
 * per leading axis; axes left out are taken whole.
 */

import { InputError } from "../errors.ts";
import { shapeSize, shapeToString, Tensor } from "./tensor.ts";

/** A range `[start, end, step]` (end exclusive; any part may be left out or null; negative counts from the end). */
export type SliceRange = readonly [start?: number | null, end?: number | null, step?: number | null];

/**
 * One entry of a slice spec:
 * - a number: that index (negative counts from the end); the axis is dropped;
 * - `null`: the whole axis (numpy's `:`);
 * - a range `[start, end]` / `[start, end, step]`: Python's slice, bounds clamped to the axis;
 * - `"..."`: as many whole axes as the other entries leave (numpy's `...`), at most once.
 */
export type SliceIndex = number | null | SliceRange | "...";

interface AxisPlan {
  readonly start: number;
  readonly step: number;
  readonly count: number;
  readonly keep: boolean;
}

function badSlice(message: string, code = "bad_slice"): InputError {
  return new InputError(`slice: ${message}`, code);
}

function describeEntry(entry: unknown): string {
  return Array.isArray(entry) ? `[${entry.map(String).join(", ")}]` : JSON.stringify(entry) ?? String(entry);
}

function isBound(v: unknown): v is number | null | undefined {
  return v === null || v === undefined || (typeof v === "number" && Number.isInteger(v));
}

/** Python's slice.indices(dim): clamped start, step and the number of elements taken. */
function rangePlan(range: SliceRange, dim: number): AxisPlan {
  const [startIn, endIn, stepIn] = range;
  if (range.length > 3 || !isBound(startIn) || !isBound(endIn) || !isBound(stepIn)) {
    throw badSlice(`range ${describeEntry(range)} must be [start, end, step] of integers or null`);
  }
  const step = stepIn ?? 1;
  if (step === 0) throw badSlice(`range ${describeEntry(range)} has step 0`);
  const lower = step < 0 ? -1 : 0;
  const upper = step < 0 ? dim - 1 : dim;
  const clamp = (v: number | null | undefined, fallback: number): number => {
    if (v === null || v === undefined) return fallback;
    const at = v < 0 ? v + dim : v;
    return Math.min(Math.max(at, lower), upper);
  };
  const start = clamp(startIn, step < 0 ? upper : lower);
  const end = clamp(endIn, step < 0 ? lower : upper);
  const count = step > 0 ? Math.max(0, Math.ceil((end - start) / step)) : Math.max(0, Math.ceil((start - end) / -step));
  return { start, step, count, keep: true };
}

function entryPlan(entry: SliceIndex, dim: number, axis: number): AxisPlan {
  if (entry === null) return { start: 0, step: 1, count: dim, keep: true };
  if (typeof entry === "number") {
    if (!Number.isInteger(entry) || entry < -dim || entry >= dim) {
      throw badSlice(`index ${entry} out of range for axis ${axis} of size ${dim}`, "index_out_of_range");
    }
    return { start: entry < 0 ? entry + dim : entry, step: 1, count: 1, keep: false };
  }
  if (Array.isArray(entry)) return rangePlan(entry as SliceRange, dim);
  throw badSlice(`entry ${describeEntry(entry)} for axis ${axis} is not an index, null, a range [start, end, step] or "..."`);
}

function expandEllipsis(spec: readonly SliceIndex[], rank: number, shapeText: string): SliceIndex[] {
  const ellipses = spec.filter((entry) => entry === "...").length;
  if (ellipses > 1) throw badSlice(`at most one "..." in a spec`);
  const named = spec.length - ellipses;
  if (named > rank) throw badSlice(`${named} entries for a tensor of shape ${shapeText}`, "bad_index");
  const whole = new Array<SliceIndex>(rank - named).fill(null);
  if (!ellipses) return [...spec, ...whole];
  const at = spec.indexOf("...");
  return [...spec.slice(0, at), ...whole, ...spec.slice(at + 1)];
}

/** A copy of the selected elements; numbers drop their axis, ranges and null keep it. */
export function slice(x: Tensor, spec: readonly SliceIndex[]): Tensor {
  if (!Array.isArray(spec)) throw badSlice(`the spec must be an array, e.g. [0, [2, -1], null]; got ${describeEntry(spec)}`);
  const entries = expandEllipsis(spec, x.rank, shapeToString(x.shape));
  const plans = entries.map((entry, axis) => entryPlan(entry, x.shape[axis]!, axis));
  const strides = x.strides();
  const counts = plans.map((p) => p.count);
  const out = new Float32Array(shapeSize(counts));
  const index = new Array<number>(x.rank).fill(0);
  let from = plans.reduce((offset, p, axis) => offset + p.start * strides[axis]!, 0);
  for (let k = 0; k < out.length; k++) {
    out[k] = x.data[from]!;
    for (let axis = x.rank - 1; axis >= 0; axis--) {
      const step = plans[axis]!.step * strides[axis]!;
      index[axis]!++;
      from += step;
      if (index[axis]! < counts[axis]!) break;
      from -= step * index[axis]!;
      index[axis] = 0;
    }
  }
  return new Tensor(out, plans.filter((p) => p.keep).map((p) => p.count));
}
