/** Axis arguments as numpy takes them: negative axes count from the end. */

import { InputError } from "../errors.ts";
import { shapeToString, type Shape } from "./tensor.ts";

/** `axis` in 0…rank − 1 (−1 is the last axis); an InputError `bad_axis` otherwise. */
export function normalizeAxis(shape: Shape, axis: number, where: string): number {
  const rank = shape.length;
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new InputError(`${where}: axis ${axis} out of range for shape ${shapeToString(shape)}`, "bad_axis");
  }
  return axis < 0 ? axis + rank : axis;
}

/** Sorted, distinct, non-negative axes; a repeated axis is an error, as in numpy. */
export function normalizeAxes(shape: Shape, axes: number | readonly number[], where: string): number[] {
  const list = typeof axes === "number" ? [axes] : [...axes];
  const normalized = list.map((axis) => normalizeAxis(shape, axis, where));
  if (new Set(normalized).size !== normalized.length) {
    throw new InputError(`${where}: repeated axis in [${list.join(", ")}]`, "bad_axis");
  }
  return normalized.sort((a, b) => a - b);
}
