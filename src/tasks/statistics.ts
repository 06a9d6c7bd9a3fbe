/**
 * Per-prompt statistics for the task reports: mean, sample standard deviation and a seeded
 * percentile bootstrap interval of the mean (prompts resampled with replacement).
 *
 * Every interval starts its generator afresh from the seed, so two statistics over the same number of
 * prompts use the same resamples: the intervals are paired (e.g. a circuit's PD and the model's PD).
 */
import { InputError } from "../errors.ts";
import { seededRandom } from "./random.ts";

export interface BootstrapOptions {
  /** Number of resamples of the prompts (default 1000). */
  readonly resamples?: number;
  readonly seed?: number;
  /** Two-sided coverage of the percentile interval (default 0.95). */
  readonly confidence?: number;
}

/** A per-prompt quantity summarised over `n` prompts. */
export interface MeanSummary {
  /** How many prompts the numbers rest on. */
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1 in the denominator; 0 for one prompt). */
  readonly sd: number;
  /** Percentile bootstrap interval of the mean: [lower, upper]. */
  readonly ci: readonly [number, number];
}

export const DEFAULT_RESAMPLES = 1000;
export const DEFAULT_CONFIDENCE = 0.95;

function checkValues(values: ArrayLike<number>, what: string): void {
  if (values.length === 0) throw new InputError(`${what}: no values to summarise`, "empty_sample");
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new InputError(`${what}: value ${i} is ${values[i]}, not a finite number`, "bad_sample");
  }
}

function resolve(options: BootstrapOptions): { resamples: number; seed: number; confidence: number } {
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  const seed = options.seed ?? 0;
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  if (!Number.isSafeInteger(resamples) || resamples < 1) {
    throw new InputError(`bootstrap resamples must be a positive integer, got ${resamples}`, "bad_resamples");
  }
  if (!Number.isSafeInteger(seed)) throw new InputError(`bootstrap seed must be an integer, got ${seed}`, "bad_seed");
  if (!(confidence > 0 && confidence < 1)) {
    throw new InputError(`bootstrap confidence must lie strictly between 0 and 1, got ${confidence}`, "bad_confidence");
  }
  return { resamples, seed, confidence };
}

export function mean(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total / values.length;
}

/** Sample standard deviation (two-pass); 0 for a single value. */
export function sampleSd(values: ArrayLike<number>): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  let squares = 0;
  for (let i = 0; i < values.length; i++) squares += (values[i]! - m) ** 2;
  return Math.sqrt(squares / (values.length - 1));
}

/** The q-quantile (0 ≤ q ≤ 1) of ascending values, interpolating linearly between order statistics (R's type 7). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const h = (sorted.length - 1) * q;
  const low = Math.floor(h);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low]! + (h - low) * (sorted[high]! - sorted[low]!);
}

/**
 * Bootstrap replicates of a statistic of resampled prompt indices: each replicate draws n indices
 * uniformly with replacement and passes them to `statistic`.
 */
export function bootstrapReplicates(
  n: number, statistic: (indices: Int32Array) => number, options: BootstrapOptions = {},
): Float64Array {
  const { resamples, seed } = resolve(options);
  if (!Number.isSafeInteger(n) || n < 1) throw new InputError(`bootstrap needs at least one prompt, got n = ${n}`, "empty_sample");
  const random = seededRandom(seed);
  const indices = new Int32Array(n);
  const replicates = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) indices[i] = random.nextInt(n);
    replicates[r] = statistic(indices);
  }
  return replicates;
}

/** The percentile interval of bootstrap replicates at the options' confidence. */
export function percentileInterval(replicates: Float64Array, options: BootstrapOptions = {}): [number, number] {
  const { confidence } = resolve(options);
  const sorted = Float64Array.from(replicates).sort();
  const tail = (1 - confidence) / 2;
  return [quantileSorted(sorted, tail), quantileSorted(sorted, 1 - tail)];
}

/** Mean, sample sd and the percentile bootstrap interval of the mean of per-prompt values. */
export function summarizeMean(values: ArrayLike<number>, options: BootstrapOptions = {}, what = "per-prompt values"): MeanSummary {
  checkValues(values, what);
  const replicates = bootstrapReplicates(values.length, (indices) => {
    let total = 0;
    for (let i = 0; i < indices.length; i++) total += values[indices[i]!]!;
    return total / indices.length;
  }, options);
  return { n: values.length, mean: mean(values), sd: sampleSd(values), ci: percentileInterval(replicates, options) };
}

/**
 * mean(numerator) / mean(denominator) over the same prompts, with a paired bootstrap interval (each
 * resample takes both values of the prompts it draws), e.g. a circuit's PD as a fraction of the model's.
 */
export function summarizeRatioOfMeans(
  numerator: ArrayLike<number>, denominator: ArrayLike<number>, options: BootstrapOptions = {},
): { readonly n: number; readonly value: number; readonly ci: readonly [number, number] } {
  checkValues(numerator, "ratio numerator");
  checkValues(denominator, "ratio denominator");
  if (numerator.length !== denominator.length) {
    throw new InputError(`ratio of means: ${numerator.length} numerator values but ${denominator.length} denominator values`, "bad_shape");
  }
  const replicates = bootstrapReplicates(numerator.length, (indices) => {
    let top = 0;
    let bottom = 0;
    for (let i = 0; i < indices.length; i++) {
      top += numerator[indices[i]!]!;
      bottom += denominator[indices[i]!]!;
    }
    return top / bottom;
  }, options);
  return { n: numerator.length, value: mean(numerator) / mean(denominator), ci: percentileInterval(replicates, options) };
}
