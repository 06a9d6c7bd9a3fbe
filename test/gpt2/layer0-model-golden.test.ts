import { expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { expectClose } from "../helpers/compare.ts";
import { greaterThanGolden, LAYER0_MODEL_DIR } from "../helpers/fixtures.ts";

it("layer-0 float16 greater-than model (the former bundled one): END logits of the 100 year tokens match HF for all 490 prompts", async () => {
  const model = new HookedGpt2(await loadGpt2FromDir(LAYER0_MODEL_DIR));
  const golden = greaterThanGolden();
  const [batch, pos] = golden.info("tokens").shape as [number, number];
  expect(batch).toBe(490);
  const yearTokens = golden.getInt32("year_tokens");
  const { logits } = model.run({ ids: golden.getInt32("tokens"), batch, pos }, { logitPositions: [pos - 1] });
  const vocab = model.config.dVocab;
  const yearLogits = new Float32Array(batch * 100);
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < 100; y++) yearLogits[b * 100 + y] = logits.data[b * vocab + yearTokens[y]!]!;
  }
  expectClose(yearLogits, golden.getFloat32("year_logits"), 1e-3, "year_logits");
});
