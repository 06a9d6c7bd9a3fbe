/** activationPatching takes text prompts (tokenized as run() does) of equal token length. */
import { describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { activationPatching } from "../../src/patching/activation-patching.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const metric = (logits: Tensor) => logits.data[0]!;

describe("activationPatching with text prompts", () => {
  it("gives the result of the same prompts as ids", () => {
    const clean = "The war lasted from the year 1732 to the year 17";
    const corrupted = "The war lasted from the year 1701 to the year 17";
    const ids = (text: string) => Array.from(model.toTokens(text).ids);
    const common = { component: "resid_pre", by: "layer_pos", metric, logitPositions: [12] } as const;
    const fromText = activationPatching(model, { ...common, clean, corrupted });
    const fromIds = activationPatching(model, { ...common, clean: ids(clean), corrupted: ids(corrupted) });
    expect(fromText.values.data).toEqual(fromIds.values.data);
  });

  it("rejects text prompts of different token lengths", () => {
    expect(() =>
      activationPatching(model, { component: "resid_pre", by: "layer_pos", metric, clean: ["a b", "a"], corrupted: ["c d", "c d"] }),
    ).toThrow(/clean prompts have different token lengths \(3, 2\)/);
  });
});
