/**
 * Does the model compute greater-than at all? A circuit of a model that does not is an artefact of
 * the selection rule's thresholds, so the report selects none.
 */
import { InputError } from "../../errors.ts";
import type { MeanSummary } from "../statistics.ts";

/** The rule's default: the model must put at least 5 % more probability on later years than on earlier ones. */
export const DEFAULT_MIN_PROB_DIFF = 0.05;

export interface TaskCheck {
  readonly computes_greater_than: boolean;
  /** The rule, in a sentence. */
  readonly rule: string;
  readonly min_prob_diff: number;
  /** The lower end of the model's PD interval that the rule compares. */
  readonly prob_diff_lower: number;
  /** The lower end of the interval of PD − corrupted PD (per prompt) that the rule compares. */
  readonly corruption_effect_lower: number;
  /** Why, in a sentence. */
  readonly reason: string;
}

export function checkMinProbDiff(value: number): number {
  if (!Number.isFinite(value) || value < 0 || value >= 1) {
    throw new InputError(`the minimum probability difference must be a number in [0, 1), got ${value}`, "bad_min_prob_diff");
  }
  return value;
}

const interval = (summary: MeanSummary) => `[${summary.ci[0].toFixed(4)}, ${summary.ci[1].toFixed(4)}]`;

/**
 * The model computes greater-than on these prompts when the lower ends of the bootstrap intervals of
 * its mean PD and of the mean per-prompt drop PD − corrupted PD both exceed `minProbDiff`: it prefers
 * later years, and because of YY (without the drop the corrupted prompts carry the same answer and
 * path patching has nothing to find, as with only YY 02…06).
 */
export function greaterThanTaskCheck(
  probDiff: MeanSummary, corruptionEffect: MeanSummary, minProbDiff: number = DEFAULT_MIN_PROB_DIFF,
): TaskCheck {
  checkMinProbDiff(minProbDiff);
  const prefersLater = probDiff.ci[0] > minProbDiff;
  const readsYy = corruptionEffect.ci[0] > minProbDiff;
  const reason = !prefersLater
    ? `the model does not compute greater-than: its PD interval ${interval(probDiff)} does not lie above ${minProbDiff}, so no circuit is selected`
    : !readsYy
      ? `the corrupted prompts (XX01) leave PD nearly unchanged: the drop PD − corrupted PD has interval ${interval(corruptionEffect)}, ` +
        `not above ${minProbDiff}, so path patching cannot locate a greater-than computation on these prompts and no circuit is selected`
      : `its PD interval ${interval(probDiff)} and the drop under corruption ${interval(corruptionEffect)} both lie above ${minProbDiff}`;
  return {
    computes_greater_than: prefersLater && readsYy,
    rule:
      `a circuit is selected only when the lower ends of the bootstrap intervals of the mean PD and of the mean per-prompt drop ` +
      `PD − corrupted PD, over the ${probDiff.n} prompts, are both above ${minProbDiff}`,
    min_prob_diff: minProbDiff,
    prob_diff_lower: probDiff.ci[0],
    corruption_effect_lower: corruptionEffect.ci[0],
    reason,
  };
}
