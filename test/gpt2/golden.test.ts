import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadGpt2FromBytes } from "../../src/gpt2/load.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import type { HookName } from "../../src/gpt2/hook-names.ts";
import { expectClose } from "../helpers/compare.ts";
import { TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";

const TOLERANCE = 1e-4;

function tokensOf(name: string) {
  const golden = tinyGolden();
  const [batch, pos] = golden.info(name).shape as [number, number];
  return { ids: golden.getInt32(name), batch, pos };
}

const layouts = {
  "model.safetensors (transformer. prefix)": async () => loadGpt2FromDir(TINY_DIR),
  "legacy-layout.safetensors (no prefix, attn.bias buffers)": async () =>
    loadGpt2FromBytes({
      config: readFileSync(`${TINY_DIR}/config.json`, "utf8"),
      weights: new Uint8Array(readFileSync(`${TINY_DIR}/legacy-layout.safetensors`)),
    }),
};

describe.each(Object.entries(layouts))("tiny-gpt2 vs HuggingFace goldens, %s", (_, load) => {
  it("matches every golden activation and the logits of the clean run", async () => {
    const model = new HookedGpt2(await load());
    const golden = tinyGolden();
    const { logits, cache } = model.run(tokensOf("tokens"), { cache: true });
    const activationNames = golden.names.filter(
      (name) => model.hookNames.includes(name as HookName) && name !== "logits",
    );
    expect(activationNames.length).toBe(2 + 16 * model.config.nLayers + 1);
    for (const name of activationNames) {
      const actual = cache.get(name as HookName);
      expect(actual.shape, name).toEqual(golden.info(name).shape);
      expectClose(actual.data, golden.getFloat32(name), TOLERANCE, name);
    }
    expect(logits.shape).toEqual(golden.info("logits").shape);
    expectClose(logits.data, golden.getFloat32("logits"), TOLERANCE, "logits");
  });

  it("hook_normalized · w + b equals HuggingFace's LayerNorm output", async () => {
    const gpt2 = await load();
    const model = new HookedGpt2(gpt2);
    const golden = tinyGolden();
    const { cache } = model.run(tokensOf("tokens"), { cache: true });
    const norms: [HookName, string, Float32Array, Float32Array][] = [
      ["ln_final.hook_normalized", "ln_final.out", gpt2.weights.lnFinalWeight, gpt2.weights.lnFinalBias],
    ];
    gpt2.weights.blocks.forEach((block, layer) => {
      norms.push([`blocks.${layer}.ln1.hook_normalized`, `blocks.${layer}.ln1.out`, block.ln1Weight, block.ln1Bias]);
      norms.push([`blocks.${layer}.ln2.hook_normalized`, `blocks.${layer}.ln2.out`, block.ln2Weight, block.ln2Bias]);
    });
    for (const [hook, goldenName, weight, bias] of norms) {
      const normalized = cache.get(hook).data;
      const width = weight.length;
      const affine = normalized.map((x, i) => x * weight[i % width]! + bias[i % width]!);
      expectClose(affine, golden.getFloat32(goldenName), TOLERANCE, goldenName);
    }
  });

  it("matches the corrupted run", async () => {
    const model = new HookedGpt2(await load());
    const golden = tinyGolden();
    const { logits, cache } = model.run(tokensOf("corrupted_tokens"), { cache: true });
    for (const name of golden.names.filter((n) => n.startsWith("corrupted.") && n !== "corrupted.logits")) {
      expectClose(cache.get(name.slice("corrupted.".length) as HookName).data, golden.getFloat32(name), TOLERANCE, name);
    }
    expectClose(logits.data, golden.getFloat32("corrupted.logits"), TOLERANCE, "corrupted.logits");
  });
});
