/**
 * Gradients against PyTorch autograd (float64, test/fixtures/make_gradient_goldens.py, which builds
 * the model from the weight files as bench/torch_gpt2.py does): the metric is a probability mass
 * difference at each prompt's last position, and every stored hook point's gradient must match.
 * Tolerances (max |ours − torch| / max |torch| per hook point): our pass runs in float32, so each
 * gradient carries float32 rounding through the blocks and the 50257-way softmax (observed: ≤ 7e-6
 * on the tiny model, ≤ 2e-5 on the 4-layer layer-0 model, whose saturated PD ≈ 0.998 makes its
 * gradients differences of nearly equal probabilities, ≤ 8e-6 on the bundled 6-layer one); tolerances
 * 5e-5 and 1e-4. The bundled model's layer 0 attends locally and almost one-hot (a training penalty), so
 * its q, k and attn_scores gradients are ≈ 1e-11 while the gradients flowing into them are ≈ 1e-2:
 * they are float32 rounding there, in PyTorch's float64 as in ours. So the error of each hook point is
 * taken relative to max(its largest |torch gradient|, float32 epsilon × the file's largest).
 */
import { describe, expect, it } from "vitest";
import { probabilityMassDifferenceMetric } from "../../../src/gpt2/backward/logit-metrics.ts";
import { isHookName } from "../../../src/gpt2/hook-names.ts";
import { loadGpt2FromDir } from "../../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../../src/hooks/hooked-gpt2.ts";
import { probabilityDifferenceGradientMetric, probabilityDifferenceMetric } from "../../../src/tasks/greater-than/pd-metric.ts";
import { BUNDLED_MODEL_DIR, LAYER0_MODEL_DIR, readFixture, TINY_DIR } from "../../helpers/fixtures.ts";

const FLOAT32_EPSILON = 2 ** -23;

const maxAbs = (values: ArrayLike<number>) => Array.from(values).reduce((max, value) => Math.max(max, Math.abs(value)), 0);

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
  const floor = FLOAT32_EPSILON * Math.max(...names.map((name) => maxAbs(file.getFloat32(`grad.${name}`))));
  for (const name of names) {
    if (!isHookName(name)) throw new Error(`golden has no hook point ${name}`);
    expect(grads.get(name).shape, name).toEqual(file.info(`grad.${name}`).shape);
    const expected = file.getFloat32(`grad.${name}`);
    const actual = grads.get(name).data;
    const difference = maxAbs(Array.from(expected, (e, i) => actual[i]! - e));
    expect(difference / Math.max(maxAbs(expected), floor), name).toBeLessThanOrEqual(tolerance);
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
    const gt = readFixture("greater-than-gpt2-layer0/golden.safetensors");
    const tokens = rowsOf(gt.getInt32("tokens").subarray(0, 4 * 13), 4);
    const yearTokens = Array.from(gt.getInt32("year_tokens"));
    const yy = gt.getInt32("yy").subarray(0, 4);
    const { value } = model.runWithGradients(tokens, { metric: probabilityDifferenceGradientMetric(yearTokens, yy) });
    expect(value).toBeCloseTo(probabilityDifferenceMetric(yearTokens, yy)(model.run(tokens).lastTokenLogits()), 5);
    model.dispose();
  });

  const greaterThanPd = (_file: ReturnType<typeof readFixture>, batch: number) => {
    const gt = readFixture("greater-than-gpt2-layer0/golden.safetensors");
    return probabilityDifferenceGradientMetric(Array.from(gt.getInt32("year_tokens")), gt.getInt32("yy").subarray(0, batch));
  };

  it("bundled 6-layer model, greater-than PD (task metric): layers 0, 2 and 5 and the embeddings", async () => {
    await compare(BUNDLED_MODEL_DIR, "bundled-model/gradient-golden.safetensors", 1e-4, greaterThanPd);
  });

  it("layer-0 4-layer model, greater-than PD (task metric): layers 0 and 3 and the embeddings", async () => {
    await compare(LAYER0_MODEL_DIR, "greater-than-gpt2-layer0/gradient-golden.safetensors", 1e-4, greaterThanPd);
  });
});
