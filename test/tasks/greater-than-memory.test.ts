/**
 * greaterThanMemoryBytes against the arrays a real pipeline holds: two cached runs
 * (collectPathActivations on the clean and corrupted prompts) and the END logits.
 */
import { describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { collectPathActivations, type PathActivations } from "../../src/patching/path-activations.ts";
import { makeGreaterThanDataset } from "../../src/tasks/greater-than/dataset.ts";
import { greaterThanLargestArrayFloats, greaterThanMemoryBytes } from "../../src/tasks/greater-than/memory.ts";
import { BUNDLED_MODEL_DIR } from "../helpers/fixtures.ts";

function arraysOf(run: PathActivations): Float32Array[] {
  return [...run.cache].map(([, tensor]) => tensor.data);
}

describe("greaterThanMemoryBytes", () => {
  it("equals the bytes of the two cached runs plus the [n, d_vocab] END logits", async () => {
    const model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
    const n = 6;
    const data = makeGreaterThanDataset({ n, seed: 2 });
    const clean = collectPathActivations(model, data.tokens);
    const corrupted = collectPathActivations(model, data.corruptedTokens, { reuse: { run: clean, tokens: data.tokens } });
    const cached = [...arraysOf(clean), ...arraysOf(corrupted)];
    expect(cached.length).toBeGreaterThan(6 * model.config.nLayers);
    const held = cached.reduce((sum, a) => sum + a.byteLength, 0) + 4 * n * model.config.dVocab;
    expect(greaterThanMemoryBytes(model.config, n)).toBe(held);
    expect(greaterThanLargestArrayFloats(model.config, n)).toBe(Math.max(n * model.config.dVocab, ...cached.map((a) => a.length)));
  });

  it("grows linearly with the prompt count (GPT-2 small: ≈ 3 GB at the paper's 490)", () => {
    const gpt2Small = { nLayers: 12, dModel: 768, nHeads: 12, dHead: 64, dVocab: 50257 };
    const at490 = greaterThanMemoryBytes(gpt2Small, 490);
    expect(at490 / 1e9).toBeGreaterThan(2.9);
    expect(at490 / 1e9).toBeLessThan(3.1);
    expect(greaterThanMemoryBytes(gpt2Small, 980)).toBe(2 * at490);
  });
});
