/** "Nice" axis ticks (steps of 1, 2, 2.5 or 5 times a power of ten) and label strides for crowded axes. */

import { formatCompactNumber, formatTickValue } from "./number-format.ts";

export interface NiceTicks {
  /** Domain extended outwards to whole steps. */
  readonly min: number;
  readonly max: number;
  /** Tick values from min to max inclusive, each rounded to the step's decimals. */
  readonly values: readonly number[];
  /** Printable labels, one per value, with a common number of decimals. */
  readonly labels: readonly string[];
}

/** Ticks covering [min, max] with roughly `targetCount` intervals. Requires finite min < max. */
export function niceTicks(min: number, max: number, targetCount = 5): NiceTicks {
  const { step, decimals } = niceStep((max - min) / targetCount);
  if (!isUsableStep(step, min, max)) return endpointsOnly(min, max);
  const lo = roundTo(Math.floor(min / step + 1e-9) * step, decimals);
  const hi = roundTo(Math.ceil(max / step - 1e-9) * step, decimals);
  const count = Math.round((hi - lo) / step);
  // At huge magnitudes with a tiny relative range, min/step loses its low digits: no whole step fits,
  // or the rounded ends no longer cover [min, max].
  if (!(count >= 1) || lo > min + 1e-6 * step || hi < max - 1e-6 * step) return endpointsOnly(min, max);
  const values: number[] = [];
  for (let i = 0; i <= count; i++) values.push(roundTo(lo + i * step, decimals));
  return { min: lo, max: hi, values, labels: values.map((v) => formatTickValue(v, decimals)) };
}

/** Ticks strictly inside [min, max] (not extending the domain), e.g. for a colour bar with a fixed range. */
export function niceTicksWithin(min: number, max: number, targetCount = 5): NiceTicks {
  const { step, decimals } = niceStep((max - min) / targetCount);
  if (!isUsableStep(step, min, max)) return endpointsOnly(min, max);
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  const values: number[] = [];
  for (let i = first; i <= last; i++) values.push(roundTo(i * step, decimals));
  return { min, max, values, labels: values.map((v) => formatTickValue(v, decimals)) };
}

function niceStep(rawStep: number): { step: number; decimals: number } {
  const exponent = Math.floor(Math.log10(rawStep));
  const fraction = rawStep / 10 ** exponent;
  const [mantissa, exponentShift] =
    fraction <= 1 ? [1, 0] : fraction <= 2 ? [2, 0] : fraction <= 2.5 ? [2.5, 0] : fraction <= 5 ? [5, 0] : [1, 1];
  const finalExponent = exponent + exponentShift;
  const decimals = Math.max(0, -finalExponent + (mantissa === 2.5 ? 1 : 0));
  return { step: mantissa * 10 ** finalExponent, decimals };
}

/** Steps below 1e-90 would need more decimals than toFixed supports; such axes get endpoint labels only. */
function isUsableStep(step: number, min: number, max: number): boolean {
  return Number.isFinite(step) && step >= 1e-90 && (max - min) / step <= 1000;
}

function endpointsOnly(min: number, max: number): NiceTicks {
  return { min, max, values: [min, max], labels: [formatCompactNumber(min), formatCompactNumber(max)] };
}

function roundTo(value: number, decimals: number): number {
  const rounded = Number(value.toFixed(decimals));
  return rounded === 0 ? 0 : rounded;
}
