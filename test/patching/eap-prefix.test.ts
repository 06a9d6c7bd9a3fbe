/**
 * EAP / EAP-IG with the shared prefix run once (sharePrefix, the default) against the same scores
 * with every run over the whole prompts (sharePrefix: false), on the tiny model: greater-than
 * prompts, padded batches (left and right) and scored positions inside the prefix; and the prefix
 * length found against the prompts' first difference and the metric's read positions.
 */
import { describe, expect, it } from "vitest";
import { logProbMetric } from "../../src/gpt2/backward/logit-metrics.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { padTokenRows } from "../../src/gpt2/padding.ts";
import type { TokenBatch } from "../../src/gpt2/tokens.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { promptsOf, sharedPrefixLength } from "../../src/patching/eap-prefix.ts";
import { edgeAttribution, type EdgeAttributionOptions, type EdgeScores } from "../../src/patching/eap-scores.ts";
import { TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const golden = tinyGolden();
const clean: TokenBatch = { ids: golden.getInt32("tokens"), batch: 2, pos: 13 };
const corrupted: TokenBatch = { ids: golden.getInt32("corrupted_tokens"), batch: 2, pos: 13 };
const target = golden.getInt32("year_tokens")[70]!;

function expectSameScores(shared: EdgeScores, whole: EdgeScores): void {
  let largest = 0;
  whole.scores.forEach((v) => Number.isFinite(v) && (largest = Math.max(largest, Math.abs(v))));
  expect(largest).toBeGreaterThan(1e-4);
  whole.scores.forEach((v, i) => {
    if (Number.isNaN(v)) expect(shared.scores[i]).toBeNaN();
    else expect(Math.abs(shared.scores[i]! - v), `edge ${i}: ${shared.scores[i]} vs ${v}`).toBeLessThanOrEqual(2e-5 * largest);
  });
  expect(shared.positions).toEqual(whole.positions);
}

const both = (options: EdgeAttributionOptions) => {
  const shared = edgeAttribution(model, options);
  const whole = edgeAttribution(model, { ...options, sharePrefix: false });
  expectSameScores(shared, whole);
};

describe("EAP with the shared prefix run once", () => {
  it("finds the greater-than prompts' prefix: the 8 positions before YY", () => {
    expect(sharedPrefixLength(promptsOf(clean), promptsOf(corrupted), logProbMetric(target))).toBe(8);
    expect(sharedPrefixLength(promptsOf(clean), promptsOf(corrupted), logProbMetric(target, { positions: [12, 5] }))).toBe(5);
    expect(sharedPrefixLength(promptsOf(clean), promptsOf(corrupted), logProbMetric(target, { positions: "all" }))).toBe(0);
    expect(sharedPrefixLength(promptsOf(clean), promptsOf(clean), logProbMetric(target))).toBe(12);
  });

  it("gives EAP's and EAP-IG's scores of whole-prompt runs (greater-than prompts, batched)", () => {
    both({ clean, corrupted, metric: logProbMetric(target) });
    both({ clean, corrupted, metric: () => logProbMetric(target), batchSize: 1, method: "eap-ig", steps: 3 });
  });

  it("batches of unequal size (the last one smaller) add up to one run of every prompt", () => {
    const three = (t: TokenBatch): TokenBatch => ({ ids: Int32Array.from([...t.ids, ...t.ids.subarray(0, 13)]), batch: 3, pos: 13 });
    for (const method of ["eap", "eap-ig"] as const) {
      const batched = edgeAttribution(model, { clean: three(clean), corrupted: three(corrupted), metric: () => logProbMetric(target), batchSize: 2, method, steps: 2 });
      const whole = edgeAttribution(model, { clean: three(clean), corrupted: three(corrupted), metric: logProbMetric(target), method, steps: 2, sharePrefix: false });
      expectSameScores(batched, whole);
    }
  });

  it("scores positions inside the prefix as 0, and reads a metric at given positions after it", () => {
    const positions = Array.from({ length: 13 }, (_, i) => i);
    const metric = logProbMetric([target, target + 1], { positions: [12, 9] });
    both({ clean, corrupted, metric, positions, method: "eap-ig", steps: 2 });
  });

  it("handles padded batches: the prefix ends where ids or masks first differ", () => {
    for (const paddingSide of ["left", "right"] as const) {
      const rows = [[50256, 464, 3290, 286, 262, 1110, 318], [50256, 317, 2068, 7586, 21831]];
      const cleanPadded = padTokenRows(rows, { paddingSide });
      const corruptedPadded = padTokenRows([[...rows[0]!.slice(0, 5), 2068, 318], [50256, 317, 2068, 7586, 1110]], { paddingSide });
      const prefix = sharedPrefixLength(promptsOf(cleanPadded), promptsOf(corruptedPadded), logProbMetric(target));
      expect(prefix, paddingSide).toBe(paddingSide === "left" ? 5 : 4);
      both({ clean: cleanPadded, corrupted: corruptedPadded, metric: logProbMetric(target), method: "eap-ig", steps: 2 });
      both({ clean: cleanPadded, corrupted: corruptedPadded, metric: () => logProbMetric(target), batchSize: 1 });
    }
  });

  it("ends the prefix where only the masks differ (a real <|endoftext|> against a pad)", () => {
    const row0 = [50256, 464, 3290, 286, 262, 1110, 318];
    const cleanPadded = padTokenRows([row0, [317, 2068, 7586, 21831, 625]], { paddingSide: "left" });
    const corruptedPadded = padTokenRows([[...row0.slice(0, 5), 2068, 318], [50256, 317, 2068, 7586, 21831, 625]], { paddingSide: "left" });
    expect(Array.from(cleanPadded.ids)).toEqual(Array.from(corruptedPadded.ids).map((id, i) => (i === 5 ? 1110 : id)));
    expect(sharedPrefixLength(promptsOf(cleanPadded), promptsOf(corruptedPadded), logProbMetric(target))).toBe(1);
    both({ clean: cleanPadded, corrupted: corruptedPadded, metric: logProbMetric(target) });
  });

  it("rejects a sharePrefix that is not a boolean", () => {
    expect(() => edgeAttribution(model, { clean, corrupted, metric: logProbMetric(target), sharePrefix: "yes" as unknown as boolean })).toThrow(/sharePrefix must be true or false, got yes/);
  });
});
