/**
 * Gradients against PyTorch autograd (float64, test/fixtures/make_gradient_goldens.py, which builds
 * the model from the weight files as bench/torch_gpt2.py does): the metric is a probability mass
 * difference at each prompt's last position, and every stored hook point's gradient must match.
 * Tolerances (max |ours − torch| / max |torch| per hook point): our pass runs in float32, so each
 * gradient carries float32 rounding through the blocks and the 50257-way softmax (observed: ≤ 7e-6
 * on the tiny model, ≤ 2e-5 on the bundled 4-layer one, whose saturated PD ≈ 0.998 makes its
 * gradients differences of nearly equal probabilities); tolerances 5e-5 and 1e-4.
 */
import { describe, expect, it } from "vitest";
import { probabilityMassDifferenceMetric } from "../../../src/gpt2/backward/logit-metrics.ts";
import { isHookName } from "../../../src/gpt2/hook-names.ts";
import { loadGpt2FromDir } from "../../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../../src/hooks/hooked-gpt2.ts";
import { probabilityDifferenceGradientMetric, probabilityDifferenceMetric } from "../../../src/tasks/greater-than/pd-metric.ts";
import { expectClose } from "../../helpers/compare.ts";
import { BUNDLED_MODEL_DIR, readFixture, TINY_DIR } from "../../helpers/fixtures.ts";

function rowsOf(data: ArrayLike<number>, rows: number): number[][] {
  const width = data.length / rows;
  return Array.from({ length: rows }, (_, r) => Array.from({ length: width }, (_, j) => data[r * width + j]!));
}

async function compare(dir: string, fixture: string, tolerance: number, metricOf: (file: ReturnType<typeof readFixture>, batch: number) => Parameters<HookedGpt2["runWithGradients"]>[1]["metric"]) {
  const model = new HookedGpt2(await loadGpt2FromDir(dir));
  const file = readFixture(fixture);
  const batch = file.info("tokens").shape[0]!;
  const names = file.names.filter((n) => n.startsWith("grad.")).map((n) => n.slice("grad.".length));
  expect(names.length).toBeGreaterThan(30);
  const { value, grads } = model.runWithGradients(rowsOf(file.getInt32("tokens"), batch), {
    metric: metricOf(file, batch), grads: (name) => names.includes(name),
  });
  expect(value).toBeCloseTo(file.getFloat32("value")[0]!, 5);
  for (const name of names) {
    if (!isHookName(name)) throw new Error(`golden has no hook point ${name}`);
    expect(grads.get(name).shape, name).toEqual(file.info(`grad.${name}`).shape);
    expectClose(grads.get(name).data, file.getFloat32(`grad.${name}`), tolerance, name);
  }
  model.dispose();
}

describe("gradients vs PyTorch autograd", () => {
  it("tiny model: every hook point", async () => {
    await compare(TINY_DIR, "tiny-gpt2/gradient-golden.safetensors", 5e-5, (file) => {
      return probabilityMassDifferenceMetric(Array.from(file.getInt32("metric_tokens")), file.getFloat32("metric_weights"));
    });
  });

  it("the task's gradient PD metric gives the task's PD of a forward pass", async () => {
    const model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
    const gt = readFixture("greater-than-golden.safetensors");
    const tokens = rowsOf(gt.getInt32("tokens").subarray(0, 4 * 13), 4);
    const yearTokens = Array.from(gt.getInt32("year_tokens"));
    const yy = gt.getInt32("yy").subarray(0, 4);
    const { value } = model.runWithGradients(tokens, { metric: probabilityDifferenceGradientMetric(yearTokens, yy) });
    expect(value).toBeCloseTo(probabilityDifferenceMetric(yearTokens, yy)(model.run(tokens).lastTokenLogits()), 5);
    model.dispose();
  });

  it("bundled model, greater-than PD (task metric): layers 0 and 3 and the embeddings", async () => {
    const gt = readFixture("greater-than-golden.safetensors");
    await compare(BUNDLED_MODEL_DIR, "greater-than-gradient-golden.safetensors", 1e-4, (_file, batch) =>
      probabilityDifferenceGradientMetric(Array.from(gt.getInt32("year_tokens")), gt.getInt32("yy").subarray(0, batch)));
  });
});
