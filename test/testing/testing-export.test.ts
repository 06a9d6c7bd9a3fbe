import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { ActivationCache } from "../../src/hooks/activation-cache.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { activationPatching } from "../../src/patching/activation-patching.ts";
import {
  checkHookInvariants, hookNameArbitrary, patchSpecArbitrary, patternViolations, residualViolations, tokenBatchArbitrary,
} from "../../src/testing/index.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

let model: HookedGpt2;
beforeAll(async () => {
  model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
});

describe("gpt2-lens/testing", () => {
  it("the invariants hold on random prompts and hook names", () => {
    fc.assert(
      fc.property(tokenBatchArbitrary(model.config, { maxLength: 10 }), hookNameArbitrary(model.config), (tokens, name) => {
        expect(checkHookInvariants(model, tokens, name)).toEqual([]);
      }),
      { numRuns: 15 },
    );
  });

  it("the checks catch a broken cache", () => {
    const { cache } = model.run([50256, 383, 1175], { cache: true });
    const tampered = new ActivationCache();
    for (const [name, value] of cache) {
      const copy = value.clone();
      if (name === "blocks.1.hook_mlp_out") copy.data[0]! += 1;
      if (name === "blocks.0.attn.hook_pattern") copy.data[1] = 0.5;
      tampered.record(name, copy);
    }
    expect(residualViolations(tampered, 2).map((v) => v.where)).toEqual(["blocks.1.hook_resid_post"]);
    expect(patternViolations(tampered, 2).some((v) => v.check === "causal")).toBe(true);
  });

  it("patch specs are all accepted by activationPatching", () => {
    const clean = [50256, 383, 1175, 4251];
    const corrupted = [50256, 383, 8700, 4251];
    fc.assert(
      fc.property(patchSpecArbitrary(), ({ component, by }) => {
        const result = activationPatching(model, {
          component, by, clean, corrupted, metric: (logits) => logits.data[0]!,
        } as Parameters<typeof activationPatching>[1]);
        expect(result.values.size).toBeGreaterThan(0);
      }),
      { numRuns: 10 },
    );
  });
});
