/**
 * Validation helpers shared by the figure builders. Every failure is an InputError (a Gpt2LensError)
 * with code "bad_figure_input" and a message that names the figure function and the offending field.
 */

import { InputError } from "../errors.ts";

/** Error code of every input-validation failure raised by the figure builders. */
export const BAD_FIGURE_INPUT = "bad_figure_input";

/** A typed error for invalid figure input; `message` should name the offending field. */
export function figureInputError(message: string): InputError {
  return new InputError(message, BAD_FIGURE_INPUT);
}

/** Require `value` to be a non-empty array. */
export function requireNonEmptyArray(figure: string, field: string, value: unknown): asserts value is unknown[] {
  if (!Array.isArray(value)) {
    throw figureInputError(`${figure}: ${field} must be an array; got ${describe(value)}`);
  }
  if (value.length === 0) {
    throw figureInputError(`${figure}: ${field} is empty; expected at least one entry`);
  }
}

/** Require `field` (an array) to have exactly as many entries as `referenceField`. */
export function requireMatchingLength(
  figure: string,
  field: string,
  value: unknown,
  referenceField: string,
  expectedLength: number,
): asserts value is unknown[] {
  if (!Array.isArray(value)) {
    throw figureInputError(`${figure}: ${field} must be an array; got ${describe(value)}`);
  }
  if (value.length !== expectedLength) {
    throw figureInputError(
      `${figure}: ${field} has ${value.length} entries but ${referenceField} has ${expectedLength}; they must match`,
    );
  }
}

/** Require a finite number (not NaN or ±Infinity). */
export function requireFiniteNumber(figure: string, field: string, value: unknown): asserts value is number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw figureInputError(`${figure}: ${field} must be a finite number; got ${describe(value)}`);
  }
}

/** Require a string (possibly empty). */
export function requireString(figure: string, field: string, value: unknown): asserts value is string {
  if (typeof value !== "string") {
    throw figureInputError(`${figure}: ${field} must be a string; got ${describe(value)}`);
  }
}

/** Require every entry of a string array to be a string. */
export function requireStringEntries(figure: string, field: string, values: readonly unknown[]): void {
  values.forEach((value, i) => requireString(figure, `${field}[${i}]`, value));
}

/** A short description of an arbitrary value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value;
}
