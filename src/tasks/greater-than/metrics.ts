/**
 * The greater-than metrics of Hanna, Liu & Variengien (2023), from the logits at the END position.
 * p(y) is the softmax over the full vocabulary of the token for the two-digit year y ("00".."99").
 *   probability difference  PD = Σ_{y>YY} p(y) − Σ_{y≤YY} p(y)    (in [−1, 1])
 *   cutoff sharpness        CS = p(YY+1) − p(YY−1)
 * Probabilities are computed in float64 from a max-subtracted log-sum-exp, so logits of any size
 * work. Patching code that only has the 100 year logits plus each row's full-vocabulary
 * log-sum-exp can use `yearProbabilitiesFromLogSumExp`; both routes give the same numbers.
 */
import { InputError } from "../../errors.ts";
import { logSumExpRows } from "../../backend/log-sum-exp.ts";

export { logSumExpRows };

export const YEAR_COUNT = 100;

/** The END logits `[batch, vocab]` of the 100 year tokens → `[batch, 100]`. */
export function gatherYearLogits(endLogits: ArrayLike<number>, vocab: number, yearTokens: ArrayLike<number>): Float64Array {
  const batch = rowCount(endLogits.length, vocab, "END logits");
  checkYearTokens(yearTokens, vocab);
  const result = new Float64Array(batch * YEAR_COUNT);
  for (let row = 0; row < batch; row++) {
    for (let year = 0; year < YEAR_COUNT; year++) result[row * YEAR_COUNT + year] = endLogits[row * vocab + yearTokens[year]];
  }
  return result;
}

/** Full-vocabulary softmax at END, restricted to the year tokens: `[batch, vocab]` → `[batch, 100]`. */
export function yearProbabilities(endLogits: ArrayLike<number>, vocab: number, yearTokens: ArrayLike<number>): Float64Array {
  return yearProbabilitiesFromLogSumExp(gatherYearLogits(endLogits, vocab, yearTokens), logSumExpRows(endLogits, vocab));
}

/** p(y) = exp(yearLogit − logSumExp) from year logits `[batch, 100]` and full-vocabulary `[batch]`. */
export function yearProbabilitiesFromLogSumExp(yearLogits: ArrayLike<number>, logSumExp: ArrayLike<number>): Float64Array {
  const batch = rowCount(yearLogits.length, YEAR_COUNT, "year logits");
  if (logSumExp.length !== batch) {
    throw new InputError(`year logits have ${batch} rows but logSumExp has ${logSumExp.length}`, "bad_shape");
  }
  const result = new Float64Array(batch * YEAR_COUNT);
  for (let row = 0; row < batch; row++) {
    for (let year = 0; year < YEAR_COUNT; year++) {
      const index = row * YEAR_COUNT + year;
      result[index] = Math.exp(yearLogits[index] - logSumExp[row]);
    }
  }
  return result;
}

/** PD per prompt: probability on years after YY minus probability on years up to YY. */
export function probabilityDifference(probs: ArrayLike<number>, yy: ArrayLike<number>): Float64Array {
  checkYearRows(probs, yy, 0, YEAR_COUNT - 1);
  const result = new Float64Array(yy.length);
  for (let row = 0; row < yy.length; row++) {
    let difference = 0;
    for (let year = 0; year < YEAR_COUNT; year++) {
      const p = probs[row * YEAR_COUNT + year];
      difference += year > yy[row] ? p : -p;
    }
    result[row] = difference;
  }
  return result;
}

/** CS per prompt: p(YY+1) − p(YY−1). Needs 1 ≤ YY ≤ 98. */
export function cutoffSharpness(probs: ArrayLike<number>, yy: ArrayLike<number>): Float64Array {
  checkYearRows(probs, yy, 1, YEAR_COUNT - 2);
  const result = new Float64Array(yy.length);
  for (let row = 0; row < yy.length; row++) {
    result[row] = probs[row * YEAR_COUNT + yy[row] + 1] - probs[row * YEAR_COUNT + yy[row] - 1];
  }
  return result;
}

export function meanProbabilityDifference(probs: ArrayLike<number>, yy: ArrayLike<number>): number {
  return mean(probabilityDifference(probs, yy));
}

export function meanCutoffSharpness(probs: ArrayLike<number>, yy: ArrayLike<number>): number {
  return mean(cutoffSharpness(probs, yy));
}

function mean(values: Float64Array): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

function rowCount(length: number, rowLength: number, what: string): number {
  if (!Number.isInteger(rowLength) || rowLength <= 0) {
    throw new InputError(`${what}: row length must be a positive integer, got ${rowLength}`, "bad_shape");
  }
  if (length === 0 || length % rowLength !== 0) {
    throw new InputError(`${what} have ${length} values, not a whole number (≥ 1) of rows of ${rowLength}`, "bad_shape");
  }
  return length / rowLength;
}

function checkYearTokens(yearTokens: ArrayLike<number>, vocab: number): void {
  if (yearTokens.length !== YEAR_COUNT) {
    throw new InputError(`expected ${YEAR_COUNT} year tokens ("00".."99"), got ${yearTokens.length}`, "bad_shape");
  }
  for (let year = 0; year < YEAR_COUNT; year++) {
    const token = yearTokens[year];
    if (!Number.isInteger(token) || token < 0 || token >= vocab) {
      throw new InputError(`year token ${token} (for "${String(year).padStart(2, "0")}") is outside [0, ${vocab})`, "token_out_of_vocab");
    }
  }
}

function checkYearRows(probs: ArrayLike<number>, yy: ArrayLike<number>, lowest: number, highest: number): void {
  const batch = rowCount(probs.length, YEAR_COUNT, "year probabilities");
  if (yy.length !== batch) throw new InputError(`year probabilities have ${batch} rows but yy has ${yy.length}`, "bad_shape");
  for (let row = 0; row < batch; row++) {
    if (!Number.isInteger(yy[row]) || yy[row] < lowest || yy[row] > highest) {
      throw new InputError(`yy[${row}] = ${yy[row]} must be an integer in [${lowest}, ${highest}]`, "bad_year");
    }
  }
}
