/**
 * The paper's headline PD and CS rest on 10,000 prompts sampled without balancing YY. This computes
 * those baseline metrics (clean PD, CS, corrupted PD, the probability heatmap) batch by batch: each
 * batch's prompts are made, run (logits at END only) and reduced before the next, so activations and
 * logits never exceed one batch. Only three numbers per prompt are kept, for the bootstrap.
 *
 * Sampling: every prompt draws its start year uniformly from the usable years (validYears(), whose
 * XX01 twin also splits as " XX" + "01", with YY in 02…98) and its noun uniformly from the nouns, one
 * seeded generator in prompt order — so the prompts do not depend on the batch size, and YY is as
 * frequent as the centuries that admit it (unbalanced, as in the paper's sampling).
 */
import { InputError } from "../../errors.ts";
import type { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import { seededRandom } from "../random.ts";
import { type BootstrapOptions, type MeanSummary, summarizeMean } from "../statistics.ts";
import { GT_POSITIONS, greaterThanPrompt, thirteenTokenBatch } from "./dataset.ts";
import { cutoffSharpness, probabilityDifference, YEAR_COUNT } from "./metrics.ts";
import { GREATER_THAN_NOUNS } from "./nouns.ts";
import { endYearProbabilities } from "./pd-metric.ts";
import { validYears, yearSplitChecker, yearTokenIds } from "./years.ts";

export const DEFAULT_BASELINE_BATCH = 256;

export interface StreamedBaselineOptions {
  readonly n: number;
  readonly seed: number;
  /** Prompts per batch (default 256). */
  readonly batchSize?: number;
  readonly bootstrap?: BootstrapOptions;
  readonly onBatch?: (done: number, total: number) => void;
}

export interface StreamedBaseline {
  readonly n: number;
  readonly seed: number;
  readonly batch_size: number;
  /** How the prompts were drawn, in a sentence. */
  readonly sampling: string;
  readonly prob_diff: MeanSummary;
  readonly cutoff_sharpness: MeanSummary;
  readonly corrupted_prob_diff: MeanSummary;
  /** Mean p(end year) per start year YY present (rows), with how many prompts each row averages. */
  readonly probability_heatmap: { readonly yy: number[]; readonly prompts: number[]; readonly mean_probability: number[][] };
}

export interface UnbalancedPrompts {
  readonly prompts: string[];
  readonly corruptedPrompts: string[];
  readonly yy: Int32Array;
}

/** Start years whose prompt and XX01 twin both split as " XX" + "YY", with 2 ≤ YY ≤ 98. */
export function unbalancedStartYears(): number[] {
  const splits = yearSplitChecker();
  return validYears().filter((year) => year % 100 >= 2 && year % 100 <= 98 && splits(Math.floor(year / 100) * 100 + 1));
}

/** A generator of prompts in the order of the seeded stream: next(count) gives the next `count`. */
export function unbalancedPromptStream(seed: number): { next(count: number): UnbalancedPrompts } {
  const random = seededRandom(seed);
  const years = unbalancedStartYears();
  return {
    next(count) {
      const prompts: string[] = [];
      const corruptedPrompts: string[] = [];
      const yy = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const year = random.pick(years);
        const noun = random.pick(GREATER_THAN_NOUNS);
        yy[i] = year % 100;
        prompts.push(greaterThanPrompt(noun, year));
        corruptedPrompts.push(greaterThanPrompt(noun, year - (year % 100) + 1));
      }
      return { prompts, corruptedPrompts, yy };
    },
  };
}

function checkCount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new InputError(`${what} must be a positive integer, got ${value}`, "bad_count");
}

export function streamBaselineMetrics(model: HookedGpt2, options: StreamedBaselineOptions): StreamedBaseline {
  const { n, seed } = options;
  const batchSize = options.batchSize ?? DEFAULT_BASELINE_BATCH;
  checkCount(n, "the baseline's prompt count");
  checkCount(batchSize, "the baseline's batch size");
  const yearTokens = yearTokenIds();
  const { END } = GT_POSITIONS;
  const stream = unbalancedPromptStream(seed);
  const pd = new Float64Array(n);
  const cs = new Float64Array(n);
  const corruptedPd = new Float64Array(n);
  const sums = Array.from({ length: YEAR_COUNT }, () => new Float64Array(YEAR_COUNT));
  const counts = new Int32Array(YEAR_COUNT);
  const endProbabilities = (prompts: readonly string[]) =>
    endYearProbabilities(model.run(thirteenTokenBatch(prompts), { logitPositions: [END] }).logits, yearTokens);
  const batches = Math.ceil(n / batchSize);
  for (let b = 0; b < batches; b++) {
    options.onBatch?.(b, batches);
    const offset = b * batchSize;
    const batch = stream.next(Math.min(batchSize, n - offset));
    const probs = endProbabilities(batch.prompts);
    pd.set(probabilityDifference(probs, batch.yy), offset);
    cs.set(cutoffSharpness(probs, batch.yy), offset);
    corruptedPd.set(probabilityDifference(endProbabilities(batch.corruptedPrompts), batch.yy), offset);
    batch.yy.forEach((yy, row) => {
      counts[yy]!++;
      for (let year = 0; year < YEAR_COUNT; year++) sums[yy]![year]! += probs[row * YEAR_COUNT + year]!;
    });
  }
  options.onBatch?.(batches, batches);
  const present = Array.from(counts.keys()).filter((yy) => counts[yy]! > 0);
  const bootstrap = options.bootstrap ?? {};
  return {
    n,
    seed,
    batch_size: batchSize,
    sampling:
      "each prompt draws its start year uniformly from the usable years (both XXYY and XX01 split as \" XX\" + two digits; YY 02…98) " +
      `and its noun uniformly from the ${GREATER_THAN_NOUNS.length} nouns, with one generator seeded ${seed}; YY is not balanced`,
    prob_diff: summarizeMean(pd, bootstrap, "baseline PD"),
    cutoff_sharpness: summarizeMean(cs, bootstrap, "baseline CS"),
    corrupted_prob_diff: summarizeMean(corruptedPd, bootstrap, "baseline corrupted PD"),
    probability_heatmap: {
      yy: present,
      prompts: present.map((yy) => counts[yy]!),
      mean_probability: present.map((yy) => Array.from(sums[yy]!, (sum) => sum / counts[yy]!)),
    },
  };
}
