/**
 * Does the model compute greater-than at all? A circuit of a model that does not is an artefact of
 * the selection rule's thresholds, so the report selects none.
 */
import { InputError } from "../../errors.ts";
import type { MeanSummary } from "../statistics.ts";

/** The rule's default: the model must put at least 5 % more probability on later years than on earlier ones. */
export const DEFAULT_MIN_PROB_DIFF = 0.05;

export interface TaskCheck {
  /** The model's PD is clearly above the threshold. */
  readonly computes_greater_than: boolean;
  /** The corruption (XX01) clearly lowers PD, so path patching has a difference to trace. */
  readonly corruption_lowers_prob_diff: boolean;
  /** Whether the report selects (or, with --circuit, evaluates) a circuit. */
  readonly circuit_analysed: boolean;
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
 * The model computes greater-than when the lower end of the bootstrap interval of its mean PD exceeds
 * `minProbDiff`. A circuit is selected only when, besides, the lower end of the interval of the mean
 * per-prompt drop PD − corrupted PD exceeds it too: without that drop the corrupted prompts carry the
 * same answer and path patching has nothing to trace (as with only YY 02…21). A given circuit
 * (`circuitGiven`) needs only the first condition.
 */
export function greaterThanTaskCheck(
  probDiff: MeanSummary, corruptionEffect: MeanSummary, minProbDiff: number = DEFAULT_MIN_PROB_DIFF, circuitGiven = false,
): TaskCheck {
  checkMinProbDiff(minProbDiff);
  const computes = probDiff.ci[0] > minProbDiff;
  const lowers = corruptionEffect.ci[0] > minProbDiff;
  const analysed = computes && (lowers || circuitGiven);
  const drop = `the drop PD − corrupted PD has interval ${interval(corruptionEffect)}`;
  const reason = !computes
    ? `the model does not compute greater-than: its PD interval ${interval(probDiff)} does not lie above ${minProbDiff}, so no circuit is selected or evaluated`
    : !lowers
      ? `the corrupted prompts (XX01) barely lower PD: ${drop}, not above ${minProbDiff}, ` +
        (circuitGiven
          ? "so the given circuit is evaluated but its numbers have little to explain"
          : "so path patching has no difference to trace and no circuit is selected (more YY values, e.g. --n ≥ 97, help)")
      : `its PD interval ${interval(probDiff)} and ${drop} both lie above ${minProbDiff}`;
  return {
    computes_greater_than: computes,
    corruption_lowers_prob_diff: lowers,
    circuit_analysed: analysed,
    rule:
      `the model computes greater-than when the lower end of the bootstrap interval of its mean PD over the ${probDiff.n} prompts is above ${minProbDiff}; ` +
      `a circuit is selected only when the lower end of the interval of the mean per-prompt drop PD − corrupted PD is above ${minProbDiff} too ` +
      "(a given circuit needs only the first)",
    min_prob_diff: minProbDiff,
    prob_diff_lower: probDiff.ci[0],
    corruption_effect_lower: corruptionEffect.ci[0],
    reason,
  };
}
