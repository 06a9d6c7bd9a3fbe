/**
 * The probability difference with a year mask. With ">" the correct end years are those after YY
 * (the greater-than PD: Σ_{y>YY} p(y) − Σ_{y≤YY} p(y)); with "<" they are those before YY
 * (Σ_{y<YY} p(y) − Σ_{y≥YY} p(y)). Cutoff sharpness follows the mask too: p(YY+1) − p(YY−1) for
 * ">", p(YY−1) − p(YY+1) for "<". p is the full-vocabulary softmax at END, read at "00"…"99".
 */
import { InputError } from "../../errors.ts";
import type { SoftmaxMetric } from "../../patching/path-patching.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { YEAR_COUNT, yearProbabilities, yearProbabilitiesFromLogSumExp } from "../greater-than/metrics.ts";
import type { YearMask } from "./families.ts";

export function isCorrectYear(mask: YearMask, year: number, yy: number): boolean {
  return mask === ">" ? year > yy : year < yy;
}

/** PD per prompt from year probabilities [batch, 100]. */
export function maskedProbabilityDifference(probs: ArrayLike<number>, yy: ArrayLike<number>, mask: YearMask): Float64Array {
  checkRows(probs, yy);
  const result = new Float64Array(yy.length);
  for (let row = 0; row < yy.length; row++) {
    let difference = 0;
    for (let year = 0; year < YEAR_COUNT; year++) {
      const p = probs[row * YEAR_COUNT + year]!;
      difference += isCorrectYear(mask, year, yy[row]!) ? p : -p;
    }
    result[row] = difference;
  }
  return result;
}

/** CS per prompt: the probability of the year just past YY on the correct side minus the one on the other. */
export function maskedCutoffSharpness(probs: ArrayLike<number>, yy: ArrayLike<number>, mask: YearMask): Float64Array {
  checkRows(probs, yy);
  const sign = mask === ">" ? 1 : -1;
  const result = new Float64Array(yy.length);
  for (let row = 0; row < yy.length; row++) {
    const y = yy[row]!;
    if (y < 1 || y > YEAR_COUNT - 2) throw new InputError(`cutoff sharpness needs 1 ≤ YY ≤ 98, got ${y} in row ${row}`, "bad_year");
    result[row] = sign * (probs[row * YEAR_COUNT + y + 1]! - probs[row * YEAR_COUNT + y - 1]!);
  }
  return result;
}

export function mean(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total / values.length;
}

/** Mean masked PD of END logits [batch, d_vocab]. */
export function maskedPdMetric(yearTokens: readonly number[], yy: ArrayLike<number>, mask: YearMask) {
  return (endLogits: Tensor): number => {
    const vocab = endLogits.shape[endLogits.rank - 1]!;
    return mean(maskedProbabilityDifference(yearProbabilities(endLogits.data, vocab, yearTokens), yy, mask));
  };
}

/** The same mean masked PD from each row's log-sum-exp and the year logits, for path patching. */
export function maskedPdSoftmaxMetric(yearTokens: readonly number[], yy: ArrayLike<number>, mask: YearMask): SoftmaxMetric {
  return {
    tokens: yearTokens,
    fromLogSumExp: (logSumExp, yearLogits) =>
      mean(maskedProbabilityDifference(yearProbabilitiesFromLogSumExp(yearLogits.data, logSumExp), yy, mask)),
  };
}

function checkRows(probs: ArrayLike<number>, yy: ArrayLike<number>): void {
  if (probs.length !== yy.length * YEAR_COUNT) {
    throw new InputError(`year probabilities hold ${probs.length} values, expected ${yy.length} rows of ${YEAR_COUNT}`, "bad_shape");
  }
  for (let row = 0; row < yy.length; row++) {
    if (!Number.isInteger(yy[row]) || yy[row]! < 0 || yy[row]! >= YEAR_COUNT) {
      throw new InputError(`yy[${row}] = ${yy[row]} must be an integer in [0, 99]`, "bad_year");
    }
  }
}
