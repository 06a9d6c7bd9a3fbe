import { beforeAll, describe, expect, it } from "vitest";
import { logitDifferenceMetric, type LogitMetric } from "../../src/gpt2/backward/logit-metrics.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import type { TokenBatch } from "../../src/gpt2/tokens.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { activationPatching } from "../../src/patching/activation-patching.ts";
import { attributionPatching } from "../../src/patching/attribution-patching.ts";
import { PatchingError } from "../../src/patching/patching-error.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { compareAttributionToActivationPatching, pearsonCorrelation } from "../../src/viz/attribution-comparison.ts";
import { JUPYTER_DISPLAY } from "../../src/viz/jupyter-display.ts";
import { TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";
import { thrownBy } from "../helpers/thrown.ts";
import { expectValidSvg } from "./svg-assertions.ts";
import { findElements, tooltipsOf } from "./xml-well-formedness.ts";

let model: HookedGpt2;
let clean: TokenBatch;
let corrupted: TokenBatch;
let metric: LogitMetric;
let correct: number, incorrect: number;

beforeAll(async () => {
  model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
  clean = { ids: tinyGolden().getInt32("tokens"), batch: 2, pos: 13 };
  corrupted = { ids: tinyGolden().getInt32("corrupted_tokens"), batch: 2, pos: 13 };
  const years = tinyGolden().getInt32("year_tokens");
  [correct, incorrect] = [years[60]!, years[40]!];
  metric = logitDifferenceMetric(correct, incorrect);
});

/** The logit difference at the last position of logits [batch, 1, vocab], written out here. */
function lastLogitDifference(logits: Tensor): number {
  const [batch, , vocab] = logits.shape as [number, number, number];
  let total = 0;
  for (let b = 0; b < batch; b++) total += logits.data[b * vocab + correct]! - logits.data[b * vocab + incorrect]!;
  return total / batch;
}

describe("pearsonCorrelation", () => {
  it("is ±1 on lines, matches the textbook formula, and NaN for a constant sample", () => {
    expect(pearsonCorrelation([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(pearsonCorrelation([1, 2, 3], [5, 3, 1])).toBeCloseTo(-1, 12);
    const x = [0.3, -1.2, 2.5, 0.1, 4], y = [1, 0, 2, -0.5, 3];
    const n = x.length, sx = x.reduce((a, b) => a + b), sy = y.reduce((a, b) => a + b);
    const sxy = x.reduce((a, v, i) => a + v * y[i]!, 0), sxx = x.reduce((a, v) => a + v * v, 0), syy = y.reduce((a, v) => a + v * v, 0);
    expect(pearsonCorrelation(x, y)).toBeCloseTo((n * sxy - sx * sy) / Math.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy)), 12);
    expect(pearsonCorrelation([1, 1, 1], [1, 2, 3])).toBeNaN();
  });
});

describe("compareAttributionToActivationPatching", () => {
  it.each(["noising", "denoising"] as const)("puts attribution beside exact activation patching of the same metric (%s)", (direction) => {
    const comparison = compareAttributionToActivationPatching(model, { component: "z", by: "layer_pos_head", clean, corrupted, metric, direction, maxBatchRows: 7 });
    const exact = activationPatching(model, { component: "z", by: "layer_pos_head", clean, corrupted, direction, metric: lastLogitDifference, logitPositions: [12] });
    const base = direction === "noising" ? exact.baseline.clean as number : exact.baseline.corrupted as number;
    expect(comparison.activation.values.shape).toEqual(exact.values.shape);
    comparison.exactChange.forEach((change, i) => expect(change).toBeCloseTo(exact.values.data[i]! - base, 4));
    const attribution = attributionPatching(model, { component: "z", by: "layer_pos_head", clean, corrupted, metric, direction });
    expect(Array.from(comparison.attribution.values.data)).toEqual(Array.from(attribution.values.data));
    expect(comparison.correlation).toBeCloseTo(pearsonCorrelation(comparison.exactChange, attribution.values.data), 12);
    expect(comparison.correlation).toBeGreaterThan(0);

    const root = expectValidSvg(comparison.figure.svg);
    const tips = tooltipsOf(root, "circle");
    expect(tips).toHaveLength(2 * 13 * 4);
    expect(tips[5]).toMatch(/^L0H1@1: /);
    expect(tooltipsOf(root, "line")).toContain("y = x");
    expect(findElements(root, "line").some((l) => l.attributes.get("stroke-dasharray") !== undefined)).toBe(true);
    expect(comparison.figure.caption).toContain(`Pearson r = ${comparison.correlation.toFixed(3)}`);
    expect(comparison[JUPYTER_DISPLAY]()["text/html"]).toContain("<svg");
  });

  it("rejects bad options with attributionPatching's typed errors", () => {
    const error = thrownBy(
      () => compareAttributionToActivationPatching(model, { component: "pattern", by: "layer_pos" as never, clean, corrupted, metric }),
      PatchingError, "unsupported_patch",
    );
    expect(error.message).toContain('cannot patch component "pattern" by "layer_pos"');
  });
});
