import type { Tensor } from "../../tensor/tensor.ts";
import type { RowSoftmaxMetric } from "../../patching/path-patch-rows.ts";
import type { SoftmaxMetric } from "../../patching/path-patching.ts";
import { probabilityMassDifferenceMetric, type SoftmaxLogitMetric } from "../../gpt2/backward/logit-metrics.ts";
import { cutoffSharpness, probabilityDifference, yearProbabilities, yearProbabilitiesFromLogSumExp } from "./metrics.ts";

function mean(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total / values.length;
}

/** Year probabilities (softmax over the full vocabulary) from END logits [batch, vocab] → [batch, 100]. */
export function endYearProbabilities(endLogits: Tensor, yearTokens: readonly number[]): Float64Array {
  const vocab = endLogits.shape[endLogits.rank - 1]!;
  return yearProbabilities(endLogits.data, vocab, yearTokens);
}

/** Mean probability difference of END logits [batch, vocab] for prompts with the given YY. */
export function probabilityDifferenceMetric(yearTokens: readonly number[], yy: ArrayLike<number>) {
  return (endLogits: Tensor): number => mean(probabilityDifference(endYearProbabilities(endLogits, yearTokens), yy));
}

export function cutoffSharpnessMetric(yearTokens: readonly number[], yy: ArrayLike<number>) {
  return (endLogits: Tensor): number => mean(cutoffSharpness(endYearProbabilities(endLogits, yearTokens), yy));
}

/**
 * The mean probability difference from each row's full-vocabulary log-sum-exp and the year
 * tokens' logits: the same numbers as probabilityDifferenceMetric, for path patching's
 * `softmaxMetric` (no [batch, d_vocab] logits held).
 */
export function probabilityDifferenceSoftmaxMetric(yearTokens: readonly number[], yy: ArrayLike<number>): SoftmaxMetric {
  return {
    tokens: yearTokens,
    fromLogSumExp: (logSumExp, yearLogits) => mean(probabilityDifference(yearProbabilitiesFromLogSumExp(yearLogits.data, logSumExp), yy)),
  };
}

/** The probability difference of each prompt (row), for pathPatchRows: probabilityDifferenceSoftmaxMetric before the mean. */
export function probabilityDifferenceRowMetric(yearTokens: readonly number[], yy: ArrayLike<number>): RowSoftmaxMetric {
  return {
    tokens: yearTokens,
    rows: (logSumExp, yearLogits) => probabilityDifference(yearProbabilitiesFromLogSumExp(yearLogits.data, logSumExp), yy),
  };
}

/**
 * The mean probability difference at each prompt's END (its last token) as a metric runWithGradients
 * can differentiate: the probability mass of years after YY minus that of the others.
 */
export function probabilityDifferenceGradientMetric(yearTokens: readonly number[], yy: ArrayLike<number>): SoftmaxLogitMetric {
  const weights = new Float64Array(yy.length * yearTokens.length);
  for (let row = 0; row < yy.length; row++) {
    for (let year = 0; year < yearTokens.length; year++) weights[row * yearTokens.length + year] = year > yy[row]! ? 1 : -1;
  }
  return probabilityMassDifferenceMetric(yearTokens, weights, { positions: "last" });
}
