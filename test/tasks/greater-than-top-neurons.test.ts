/**
 * topNeuronsOfMlp (neurons recomputed from the path-patching caches, year sums by prefix) against
 * the same score computed directly from a hooked run's mlp.hook_post and ln_final.hook_scale.
 */
import { describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { blockHook } from "../../src/gpt2/hook-names.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { collectPathActivations } from "../../src/patching/path-activations.ts";
import { GT_POSITIONS, makeGreaterThanDataset } from "../../src/tasks/greater-than/dataset.ts";
import { topNeuronsOfMlp } from "../../src/tasks/greater-than/top-neurons.ts";
import { yearTokenIds } from "../../src/tasks/greater-than/years.ts";
import { BUNDLED_MODEL_DIR } from "../helpers/fixtures.ts";

describe("topNeuronsOfMlp", () => {
  it("scores each neuron like a direct computation from hooked runs", async () => {
    const model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
    const data = makeGreaterThanDataset({ n: 12, seed: 3 });
    const { END } = GT_POSITIONS;
    const layer = model.config.nLayers - 1;
    const years = yearTokenIds();
    const ranking = topNeuronsOfMlp(
      model.model, collectPathActivations(model, data.tokens), collectPathActivations(model, data.corruptedTokens),
      data.yy, layer, END, years, 5,
    );

    const post = blockHook(layer, "mlp.hook_post");
    const clean = model.runUntil(data.tokens, "ln_final.hook_scale", { cache: [post, "ln_final.hook_scale"] });
    const corrupted = model.runUntil(data.corruptedTokens, post, { cache: [post] });
    const { dModel: d, dMlp } = model.config;
    const pos = data.tokens.pos;
    const w = model.model.weights;
    const score = (neuron: number): number => {
      // The neuron's output direction, centred, through γ and each year's unembedding column.
      const row = w.blocks[layer]!.mlpOutWeight.subarray(neuron * d, (neuron + 1) * d);
      const mean = row.reduce((a, b) => a + b, 0) / d;
      const yearEffect = years.map((token) => {
        let acc = 0;
        for (let j = 0; j < d; j++) acc += (row[j]! - mean) * w.lnFinalWeight[j]! * w.unembedTransposed[token * d + j]!;
        return acc;
      });
      let total = 0;
      for (let b = 0; b < data.tokens.batch; b++) {
        const at = (b * pos + END) * dMlp + neuron;
        const change = (corrupted.get(post).data[at]! - clean.get(post).data[at]!) / clean.get("ln_final.hook_scale").data[b * pos + END]!;
        const yy = data.yy[b]!;
        const above = yearEffect.slice(yy + 1), below = yearEffect.slice(0, yy + 1);
        const avg = (xs: number[]) => (xs.length ? xs.reduce((a, c) => a + c, 0) / xs.length : 0);
        total += change * (avg(above) - avg(below));
      }
      return total / data.tokens.batch;
    };
    expect(ranking.neurons).toHaveLength(5);
    for (const { neuron, score: value } of ranking.neurons) expect(value).toBeCloseTo(score(neuron), 5);
    // Sorted by |score|, and no neuron outside the top 5 beats the fifth.
    const fifth = Math.abs(ranking.neurons[4]!.score);
    expect(fifth).toBeGreaterThan(1e-4);
    for (let n = 0; n < dMlp; n += 7) {
      if (!ranking.neurons.some((r) => r.neuron === n)) expect(Math.abs(score(n))).toBeLessThanOrEqual(fifth + 1e-9);
    }
  });
});
