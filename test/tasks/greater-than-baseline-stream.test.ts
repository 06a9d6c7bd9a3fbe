/**
 * The streamed large baseline against one forward pass of all its prompts (full logits of every
 * position, PD and CS per prompt computed here), and streamed (small batches) against one batch.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { toTokenBatch } from "../../src/gpt2/tokenizer.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import {
  streamBaselineMetrics, unbalancedPromptStream, unbalancedStartYears,
} from "../../src/tasks/greater-than/baseline-stream.ts";
import { GT_POSITIONS } from "../../src/tasks/greater-than/dataset.ts";
import { validYears, yearTokenIds } from "../../src/tasks/greater-than/years.ts";
import { BUNDLED_MODEL_DIR } from "../helpers/fixtures.ts";
import { thrownBy } from "../helpers/thrown.ts";
import { directPd, directYearProbs, plainMean, plainSd } from "../helpers/year-probs.ts";

const N = 45;
const SEED = 4;

describe("streamBaselineMetrics on the bundled model", () => {
  let model: HookedGpt2;
  beforeAll(async () => {
    model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
  }, 60_000);

  it("equals PD, CS, corrupted PD and the heatmap from one full forward pass of the same prompts", () => {
    const streamed = streamBaselineMetrics(model, { n: N, seed: SEED, batchSize: 8, bootstrap: { resamples: 50 } });
    const prompts = unbalancedPromptStream(SEED).next(N);
    const years = yearTokenIds();
    const perPrompt = (texts: readonly string[]) => {
      const tokens = toTokenBatch(texts);
      const all = directYearProbs(model.run(tokens).logits, years); // every position's logits
      return texts.map((_, b) => all[b * tokens.pos + GT_POSITIONS.END]!);
    };
    const clean = perPrompt(prompts.prompts);
    const corrupted = perPrompt(prompts.corruptedPrompts);
    const pds = clean.map((p, b) => directPd(p, prompts.yy[b]!));
    const css = clean.map((p, b) => p[prompts.yy[b]! + 1]! - p[prompts.yy[b]! - 1]!);
    const corruptedPds = corrupted.map((p, b) => directPd(p, prompts.yy[b]!));
    const mean = plainMean;
    const sd = plainSd;
    expect(streamed.n).toBe(N);
    expect(streamed.prob_diff.mean).toBeCloseTo(mean(pds), 5);
    expect(streamed.prob_diff.sd).toBeCloseTo(sd(pds), 5);
    expect(streamed.cutoff_sharpness.mean).toBeCloseTo(mean(css), 5);
    expect(streamed.corrupted_prob_diff.mean).toBeCloseTo(mean(corruptedPds), 5);
    const yyPresent = [...new Set(prompts.yy)].sort((a, b) => a - b);
    expect(streamed.probability_heatmap.yy).toEqual(yyPresent);
    yyPresent.forEach((yy, row) => {
      const rows = clean.filter((_, b) => prompts.yy[b] === yy);
      expect(streamed.probability_heatmap.prompts[row]).toBe(rows.length);
      for (const year of [0, yy, 50, 99]) {
        expect(streamed.probability_heatmap.mean_probability[row]![year]).toBeCloseTo(mean(rows.map((p) => p[year]!)), 6);
      }
    });
  });

  it("streamed batches (7 prompts) give the one-batch numbers; the interval is the same under the seed", () => {
    const options = { n: 30, seed: SEED, bootstrap: { resamples: 100, seed: 2 } };
    const oneBatch = streamBaselineMetrics(model, { ...options, batchSize: 30 });
    const batches: number[] = [];
    const streamed = streamBaselineMetrics(model, { ...options, batchSize: 7, onBatch: (done) => batches.push(done) });
    expect(batches).toEqual([0, 1, 2, 3, 4, 5]);
    for (const key of ["prob_diff", "cutoff_sharpness", "corrupted_prob_diff"] as const) {
      expect(streamed[key].mean).toBeCloseTo(oneBatch[key].mean, 6);
      expect(streamed[key].sd).toBeCloseTo(oneBatch[key].sd, 6);
      expect(streamed[key].ci[0]).toBeCloseTo(oneBatch[key].ci[0], 6);
      expect(streamed[key].ci[1]).toBeCloseTo(oneBatch[key].ci[1], 6);
    }
    expect(streamed.probability_heatmap.yy).toEqual(oneBatch.probability_heatmap.yy);
    streamed.probability_heatmap.mean_probability.forEach((row, i) =>
      row.forEach((p, y) => expect(p).toBeCloseTo(oneBatch.probability_heatmap.mean_probability[i]![y]!, 7)));
  });

  it("bad counts are typed errors", () => {
    expect(thrownBy(() => streamBaselineMetrics(model, { n: 0, seed: 0 }), InputError, "bad_count").message).toContain("prompt count");
    expect(thrownBy(() => streamBaselineMetrics(model, { n: 5, seed: 0, batchSize: 1.5 }), InputError, "bad_count").message).toContain("batch size");
  });
});

describe("unbalanced sampling", () => {
  it("draws start years uniformly from the usable years, so YY follows how many centuries admit it", () => {
    const usable = unbalancedStartYears();
    expect(usable.every((y) => validYears().includes(y) && y % 100 >= 2 && y % 100 <= 98)).toBe(true);
    const { yy, prompts, corruptedPrompts } = unbalancedPromptStream(1).next(20_000);
    const count = (list: ArrayLike<number>, value: number) => Array.prototype.filter.call(list, (v: number) => v === value).length;
    // Expected share of a YY = the share of usable years ending in it.
    const centuries = (target: number) => usable.filter((y) => y % 100 === target).length;
    const unequal = [...new Set(usable.map((y) => y % 100))].sort((a, b) => centuries(a) - centuries(b));
    for (const target of [unequal[0]!, unequal.at(-1)!]) {
      const expected = (20_000 * centuries(target)) / usable.length;
      expect(Math.abs(count(yy, target) - expected)).toBeLessThan(4 * Math.sqrt(expected));
    }
    expect(prompts[0]).toMatch(/^<\|endoftext\|> The \w+ lasted from the year \d{4} to the year \d{2}$/);
    expect(corruptedPrompts[0]!.replace(/year (\d\d)01 to/, "year $1YY to")).toBe(prompts[0]!.replace(/year (\d\d)\d\d to/, "year $1YY to"));
  });

  it("does not depend on how the stream is cut into batches", () => {
    const whole = unbalancedPromptStream(9).next(12).prompts;
    const stream = unbalancedPromptStream(9);
    expect([...stream.next(5).prompts, ...stream.next(7).prompts]).toEqual(whole);
  });
});
