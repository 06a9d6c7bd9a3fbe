/** With processed weights the unembedding has a bias b_U: every route to the logits adds it (and only the linear one leaves it out). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { headDeltaUnembedMetrics, headOut, unembed, unembedLinear, unembedLogSumExp, unembedTokens } from "../../src/gpt2/components/index.ts";
import { loadGpt2FromBytes } from "../../src/gpt2/load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { createWasmBackend } from "../../src/backend/wasm/wasm-backend.ts";
import { referenceBackend } from "../../src/backend/reference/reference-backend.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { expectClose } from "../helpers/compare.ts";
import { TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";

const sources = { config: readFileSync(join(TINY_DIR, "config.json"), "utf8"), weights: new Uint8Array(readFileSync(join(TINY_DIR, "model.safetensors"))) };
const golden = tinyGolden();
const tokens = { ids: golden.getInt32("tokens"), batch: 2, pos: 13 };
const picked = [0, 7, 1000, 50256];

function logSumExpRows(data: Float32Array, width: number): number[] {
  const out: number[] = [];
  for (let base = 0; base < data.length; base += width) {
    let max = -Infinity;
    for (let j = 0; j < width; j++) max = Math.max(max, data[base + j]!);
    let sum = 0;
    for (let j = 0; j < width; j++) sum += Math.exp(data[base + j]! - max);
    out.push(max + Math.log(sum));
  }
  return out;
}

const backends = [referenceBackend, createWasmBackend()].filter((b) => b !== null);

describe.each(backends.map((b) => [b.name, b] as const))("unembedding with b_U (%s)", (_, backend) => {
  const model = loadGpt2FromBytes(sources, backend, { processing: "transformer-lens" });
  const hooked = new HookedGpt2(model);
  const { dVocab, dModel: d, dHead } = model.config;
  const { logits, cache } = hooked.run(tokens, { cache: ["blocks.1.hook_resid_post", "blocks.1.attn.hook_z"] });
  const finalResid = cache.get("blocks.1.hook_resid_post").reshape([-1, d]);

  it("has a non-zero b_U", () => {
    expect(model.weights.unembedBias!.some((x) => Math.abs(x) > 1e-3)).toBe(true);
  });

  it("unembed, unembedTokens and unembedLogSumExp agree with the forward pass's logits", () => {
    expectClose(unembed(model, finalResid).data, logits.data, 1e-5, "unembed");
    const expectedPicked = new Float32Array(finalResid.shape[0]! * picked.length).map((_, i) => logits.data[Math.floor(i / picked.length) * dVocab + picked[i % picked.length]!]!);
    expectClose(unembedTokens(model, finalResid, picked).data, expectedPicked, 1e-5, "unembedTokens");
    const stats = unembedLogSumExp(model, finalResid, picked);
    expectClose(stats.tokenLogits.data, expectedPicked, 1e-5, "unembedLogSumExp tokens");
    expectClose(stats.logSumExp, logSumExpRows(logits.data, dVocab), 1e-5, "unembedLogSumExp");
  });

  it("unembedLinear leaves b_U out (it is linear)", () => {
    const twice = new Tensor(finalResid.data.map((x) => 2 * x), finalResid.shape);
    const once = unembedLinear(model, finalResid, picked).data;
    expectClose(unembedLinear(model, twice, picked).data, once.map((x) => 2 * x), 1e-5, "linear");
    expectClose(unembedLinear(model, twice, null).data, unembedLinear(model, finalResid, null).data.map((x) => 2 * x), 1e-5, "linear, all");
  });

  it("headDeltaUnembedMetrics equals unembedLogSumExp of the changed rows", () => {
    const rows = finalResid.shape[0]!;
    const dz = new Tensor(Float32Array.from({ length: rows * dHead }, (_, i) => Math.sin(i)), [rows, dHead]);
    const metric = (lse: Float64Array, tokenLogits: Tensor) => lse.reduce((a, b) => a + b, 0) + tokenLogits.data.reduce((a, b) => a + b, 0);
    const [viaHead] = headDeltaUnembedMetrics(model, { finalResid, heads: [{ layer: 1, head: 2 }], dz: () => dz, tokens: picked, metric });
    const delta = headOut(model, 1, 2, dz).data;
    const changed = new Tensor(finalResid.data.map((x, i) => x + delta[i]!), finalResid.shape);
    const direct = unembedLogSumExp(model, changed, picked);
    expect(viaHead).toBeCloseTo(metric(direct.logSumExp, direct.tokenLogits), 2);
  });
});
