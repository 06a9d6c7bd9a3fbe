/**
 * Deterministic number formatting for SVG attributes, axis ticks, legends and tooltips.
 * Nothing here ever returns "NaN" or "Infinity" for use in an attribute.
 */

/**
 * Format a coordinate or length for an SVG attribute: at most two decimals, no trailing zeros, no "-0".
 * Throws on non-finite input: reaching that is a bug in a figure builder, not bad user input.
 */
export function formatSvgNumber(value: number): string {
  if (!Number.isFinite(value)) {
    throw new Error(`internal: non-finite SVG attribute value ${String(value)}`);
  }
  const rounded = Math.round(value * 100) / 100;
  return rounded === 0 ? "0" : String(rounded);
}

/** Format a tick value on an axis whose ticks are `decimals` decimal places apart. */
export function formatTickValue(value: number, decimals: number): string {
  const text = value.toFixed(decimals);
  return Number(text) === 0 ? (0).toFixed(decimals) : text;
}

/** A short human-readable rendering (about 3 significant digits), e.g. for colour-bar ends. */
export function formatCompactNumber(value: number): string {
  return Number.isFinite(value) ? significantDigits(value, 3) : describeNonFinite(value);
}

/** `digits` significant digits, in scientific notation below 1e-3 or from 1e5 on; no trailing zeros. */
function significantDigits(value: number, digits: number): string {
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) {
    const [mantissa, exponent] = value.toExponential(digits - 1).split("e");
    return `${String(Number(mantissa))}e${exponent}`;
  }
  return String(Number(value.toPrecision(digits)));
}

/**
 * The exact value for a tooltip: the shortest round-trip decimal of a finite number, or "n/a" with
 * the reason for a missing (null/undefined) or non-finite value.
 */
export function formatExactValue(value: number | null | undefined): string {
  if (value === null || value === undefined) return "n/a";
  if (typeof value !== "number") return "n/a";
  if (!Number.isFinite(value)) return `n/a (${describeNonFinite(value)})`;
  return Object.is(value, -0) ? "0" : String(value);
}

/**
 * A tooltip's value: four significant digits (scientific notation below 1e-3 or from 1e5 on), or
 * "n/a" with the reason like formatExactValue. Full precision stays in report.json; four digits keep
 * a figure with thousands of cells small.
 */
export function formatTooltipValue(value: number | null | undefined): string {
  return typeof value === "number" && Number.isFinite(value) ? significantDigits(value, 4) : formatExactValue(value);
}

/** True for a number that can be drawn (finite); null, undefined, NaN and ±Infinity cannot. */
export function isDrawableNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function describeNonFinite(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  return value > 0 ? "+Infinity" : "-Infinity";
}
