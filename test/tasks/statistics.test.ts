/**
 * Per-prompt statistics against straightforward computations: the one-pass moment formulas for the
 * mean and sd, R's type-7 quantiles, a bootstrap written out as a plain loop, the normal
 * approximation of the mean's interval, and exact cases (constant samples, proportional ratios).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { seededRandom } from "../../src/tasks/random.ts";
import { quantileSorted, sampleSd, summarizeMean, summarizeRatioOfMeans } from "../../src/tasks/statistics.ts";
import { thrownBy } from "../helpers/thrown.ts";

const sample = fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 2, maxLength: 60 });

describe("summarizeMean", () => {
  it("mean and sd equal the sum-of-squares formulas", () => {
    fc.assert(
      fc.property(sample, (values) => {
        const n = values.length;
        const sum = values.reduce((a, b) => a + b, 0);
        const squares = values.reduce((a, b) => a + b * b, 0);
        const summary = summarizeMean(values, { resamples: 10 });
        expect(summary.n).toBe(n);
        expect(summary.mean).toBeCloseTo(sum / n, 10);
        expect(summary.sd).toBeCloseTo(Math.sqrt(Math.max(0, (squares - (sum * sum) / n) / (n - 1))), 6);
      }),
      { numRuns: 50 },
    );
  });

  it("one value has sd 0 and the interval [value, value]; a constant sample too", () => {
    expect(summarizeMean([0.25])).toEqual({ n: 1, mean: 0.25, sd: 0, ci: [0.25, 0.25] });
    const constant = summarizeMean(new Array(40).fill(-0.5));
    expect(constant.sd).toBe(0);
    expect(constant.ci).toEqual([-0.5, -0.5]);
  });

  it("the interval is the percentile interval of a plainly written bootstrap with the same generator", () => {
    const random = seededRandom(99);
    const values = Array.from({ length: 37 }, () => random.next() * 3 - 1);
    const resamples = 200;
    const rng = seededRandom(7);
    const means: number[] = [];
    for (let r = 0; r < resamples; r++) {
      let total = 0;
      for (let i = 0; i < values.length; i++) total += values[rng.nextInt(values.length)]!;
      means.push(total / values.length);
    }
    means.sort((a, b) => a - b);
    // Type 7: h = (m − 1) q, interpolate between the order statistics around h.
    const at = (q: number) => {
      const h = (resamples - 1) * q;
      const lo = Math.floor(h);
      return means[lo]! + (h - lo) * (means[lo + 1]! - means[lo]!);
    };
    const { ci } = summarizeMean(values, { resamples, seed: 7 });
    expect(ci[0]).toBeCloseTo(at(0.025), 12);
    expect(ci[1]).toBeCloseTo(at(0.975), 12);
  });

  it("for many prompts the 95 % interval is about mean ± 1.96 sd/√n", () => {
    const random = seededRandom(3);
    const values = Array.from({ length: 4000 }, () => random.next()); // uniform: sd 1/√12
    const { mean, sd, ci } = summarizeMean(values, { resamples: 1000, seed: 1 });
    const half = (1.96 * sd) / Math.sqrt(values.length);
    expect(ci[0]).toBeLessThan(mean);
    expect(ci[1]).toBeGreaterThan(mean);
    expect((ci[1] - ci[0]) / 2).toBeGreaterThan(0.85 * half);
    expect((ci[1] - ci[0]) / 2).toBeLessThan(1.15 * half);
    expect(sd).toBeCloseTo(1 / Math.sqrt(12), 2);
  });

  it("is deterministic under a seed and changes with it", () => {
    const values = Array.from({ length: 50 }, (_, i) => Math.sin(i));
    expect(summarizeMean(values, { seed: 5 })).toEqual(summarizeMean(values, { seed: 5 }));
    expect(summarizeMean(values, { seed: 5 }).ci).not.toEqual(summarizeMean(values, { seed: 6 }).ci);
  });

  it("a wider confidence gives a wider interval", () => {
    const values = Array.from({ length: 80 }, (_, i) => Math.cos(i * 1.3));
    const narrow = summarizeMean(values, { confidence: 0.5 }).ci;
    const wide = summarizeMean(values, { confidence: 0.99 }).ci;
    expect(wide[0]).toBeLessThan(narrow[0]);
    expect(wide[1]).toBeGreaterThan(narrow[1]);
  });

  it("bad input is a typed error naming it", () => {
    expect(thrownBy(() => summarizeMean([]), InputError, "empty_sample").message).toContain("no values");
    expect(thrownBy(() => summarizeMean([1, Number.NaN], {}, "PD"), InputError, "bad_sample").message).toContain("PD: value 1 is NaN");
    expect(thrownBy(() => summarizeMean([1, 2], { resamples: 0 }), InputError, "bad_resamples").message).toContain("got 0");
    expect(thrownBy(() => summarizeMean([1, 2], { confidence: 1 }), InputError, "bad_confidence").message).toContain("got 1");
    expect(thrownBy(() => summarizeMean([1, 2], { seed: 0.5 }), InputError, "bad_seed").message).toContain("0.5");
  });
});

describe("quantileSorted", () => {
  it("matches R's quantile(type = 7)", () => {
    // quantile(c(1, 2, 3, 4), c(0, 0.25, 0.5, 0.9, 1)) = 1, 1.75, 2.5, 3.7, 4
    const sorted = [1, 2, 3, 4];
    expect([0, 0.25, 0.5, 0.9, 1].map((q) => quantileSorted(sorted, q))).toEqual([1, 1.75, 2.5, expect.closeTo(3.7, 12), 4]);
    expect(sampleSd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });
});

describe("summarizeRatioOfMeans", () => {
  it("a numerator proportional to the denominator gives that ratio with a degenerate interval", () => {
    const denominator = Array.from({ length: 30 }, (_, i) => 0.5 + (i % 7) / 10);
    const ratio = summarizeRatioOfMeans(denominator.map((v) => 0.8 * v), denominator);
    expect(ratio.value).toBeCloseTo(0.8, 12);
    expect(ratio.ci[0]).toBeCloseTo(0.8, 12);
    expect(ratio.ci[1]).toBeCloseTo(0.8, 12);
  });

  it("is paired: each resample takes both values of a prompt (unpaired resampling would spread the ratio)", () => {
    const random = seededRandom(11);
    const denominator = Array.from({ length: 200 }, () => random.next());
    const numerator = denominator.map((v) => v + 0.01 * (random.next() - 0.5));
    const { ci } = summarizeRatioOfMeans(numerator, denominator);
    expect(ci[1] - ci[0]).toBeLessThan(0.01);
  });

  it("lengths must match", () => {
    expect(thrownBy(() => summarizeRatioOfMeans([1, 2], [1]), InputError, "bad_shape").message).toContain("2 numerator values but 1");
  });
});
