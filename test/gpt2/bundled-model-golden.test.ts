/**
 * The bundled model (models/greater-than-gpt2) against an independent PyTorch forward
 * (scripts/train-demo-model/make_goldens.py, bench/torch_gpt2.py's forward in float32) on the 490
 * prompts of the layer-0 model's golden set: END logits of the 100 year tokens, clean and corrupted,
 * and each prompt's PD and CS. What the model must do on the task (issue 17: PD ≥ 0.80, CS ≥ 0.03,
 * corrupted PD well below) is read from the golden, not from our forward.
 */
import { describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { cutoffSharpness, gatherYearLogits, probabilityDifference, yearProbabilities } from "../../src/tasks/greater-than/metrics.ts";
import { expectClose } from "../helpers/compare.ts";
import { BUNDLED_MODEL_DIR, bundledModelGolden } from "../helpers/fixtures.ts";

const mean = (values: ArrayLike<number>) => Array.from(values).reduce((sum, value) => sum + value, 0) / values.length;

describe("bundled model vs PyTorch golden", async () => {
  const golden = bundledModelGolden();
  const [batch, pos] = golden.info("tokens").shape as [number, number];
  const yearTokens = golden.getInt32("year_tokens");
  const yy = golden.getInt32("yy");
  const model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
  const vocab = model.config.dVocab;
  const endLogits = (name: string) => model.run({ ids: golden.getInt32(name), batch, pos }, { logitPositions: [pos - 1] }).logits.data;

  it("is the 6-layer model on 490 prompts", () => {
    expect(batch).toBe(490);
    expect(model.config.nLayers).toBe(6);
  });

  it("END logits of the 100 year tokens match, clean and corrupted; PD and CS per prompt match", () => {
    const clean = endLogits("tokens");
    expectClose(gatherYearLogits(clean, vocab, yearTokens), golden.getFloat32("year_logits"), 1e-3, "year_logits");
    const probs = yearProbabilities(clean, vocab, yearTokens);
    expectClose(probabilityDifference(probs, yy), golden.getFloat32("prob_diff"), 1e-4, "prob_diff");
    expectClose(cutoffSharpness(probs, yy), golden.getFloat32("cutoff_sharpness"), 1e-3, "cutoff_sharpness");
    const corrupted = endLogits("corrupted_tokens");
    expectClose(gatherYearLogits(corrupted, vocab, yearTokens), golden.getFloat32("corrupted_year_logits"), 1e-3, "corrupted_year_logits");
  });

  it("the golden model does greater-than: PD ≥ 0.80, CS ≥ 0.03, corrupted PD well below, argmax year > YY", () => {
    const pd = mean(golden.getFloat32("prob_diff"));
    expect(pd).toBeGreaterThanOrEqual(0.8);
    expect(mean(golden.getFloat32("cutoff_sharpness"))).toBeGreaterThanOrEqual(0.03);
    expect(Number(golden.metadata.corrupted_prob_diff_mean)).toBeLessThan(pd - 0.5);
    const logits = golden.getFloat32("year_logits");
    let above = 0;
    for (let row = 0; row < batch; row++) {
      const rowLogits = Array.from(logits.subarray(row * 100, row * 100 + 100));
      if (rowLogits.indexOf(Math.max(...rowLogits)) > yy[row]!) above++;
    }
    expect(above / batch).toBeGreaterThan(0.9);
  });
});
