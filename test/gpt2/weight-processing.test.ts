/**
 * TransformerLens's weight processing at load: each step alone and all together keep the
 * log-probabilities, the LayerNorms' normalized inputs, and change the hooks TransformerLens's do.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { loadGpt2FromBytes } from "../../src/gpt2/load.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { processWeights, type WeightProcessing } from "../../src/gpt2/process-weights.ts";
import { isWeightResident } from "../../src/gpt2/weights.ts";
import type { HookName } from "../../src/gpt2/hook-names.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { loadHookedGpt2 } from "../../src/hooks/node-load-hooked.ts";
import { createWasmBackend } from "../../src/backend/wasm/wasm-backend.ts";
import { referenceBackend } from "../../src/backend/reference/reference-backend.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { expectClose } from "../helpers/compare.ts";
import { BUNDLED_MODEL_DIR, TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";

const golden = tinyGolden();
const tokens = { ids: golden.getInt32("tokens"), batch: 2, pos: 13 };

const SINGLE_STEPS: [string, WeightProcessing][] = [
  ["foldLn", { foldLn: true }],
  ["centerWritingWeights", { centerWritingWeights: true }],
  ["centerUnembed", { centerUnembed: true }],
  ["foldValueBiases", { foldValueBiases: true }],
  ["transformer-lens", "transformer-lens"],
];

function logSoftmax(logits: Tensor): Float64Array {
  const vocab = logits.shape[logits.rank - 1]!;
  const out = new Float64Array(logits.size);
  for (let base = 0; base < logits.size; base += vocab) {
    let max = -Infinity;
    for (let j = 0; j < vocab; j++) max = Math.max(max, logits.data[base + j]!);
    let sum = 0;
    for (let j = 0; j < vocab; j++) sum += Math.exp(logits.data[base + j]! - max);
    const lse = max + Math.log(sum);
    for (let j = 0; j < vocab; j++) out[base + j] = logits.data[base + j]! - lse;
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Largest |mean over the last axis| relative to the rows' largest |value|. */
function relativeRowMean(x: Tensor): number {
  const d = x.shape[x.rank - 1]!;
  let worst = 0;
  for (let base = 0; base < x.size; base += d) {
    let mean = 0;
    let scale = 0;
    for (let j = 0; j < d; j++) {
      mean += x.data[base + j]!;
      scale = Math.max(scale, Math.abs(x.data[base + j]!));
    }
    worst = Math.max(worst, Math.abs(mean / d) / scale);
  }
  return worst;
}

const models = [
  ["tiny-gpt2", TINY_DIR],
  ["the bundled greater-than model", BUNDLED_MODEL_DIR],
] as const;

describe.each(models)("processing %s", (_, dir) => {
  const loadPlain = async () => new HookedGpt2(await loadGpt2FromDir(dir));

  it("by default gives HuggingFace's values and says so", async () => {
    const model = await loadPlain();
    expect(model.model.weightsProcessing).toBe("huggingface");
    expect(model.model.processing).toEqual({ foldLn: false, centerWritingWeights: false, centerUnembed: false, foldValueBiases: false });
    expect(model.model.weights.unembedBias).toBeUndefined();
    expect(processWeights(model.model.weights, model.config, "none")).toBe(model.model.weights);
    expect(processWeights(model.model.weights, model.config, {})).toBe(model.model.weights);
  });

  it.each(SINGLE_STEPS)("%s keeps the log-probabilities (logits up to a constant per position) hook_normalized, hook_scale and hook_pattern", async (label, processing) => {
    const plain = await loadPlain();
    const processed = await loadHookedGpt2(dir, { processing });
    expect(processed.model.weightsProcessing).toBe(label);
    const before = plain.run(tokens, { cache: true });
    const after = processed.run(tokens, { cache: true });
    expect(maxAbsDiff(logSoftmax(after.logits), logSoftmax(before.logits))).toBeLessThan(1e-4);
    // The logits move by one constant per position.
    const vocab = plain.config.dVocab;
    for (let base = 0; base < before.logits.size; base += vocab) {
      const shift = after.logits.data[base]! - before.logits.data[base]!;
      let worst = 0;
      for (let j = 0; j < vocab; j++) worst = Math.max(worst, Math.abs(after.logits.data[base + j]! - before.logits.data[base + j]! - shift));
      expect(worst).toBeLessThan(1e-4);
    }
    const normalized = plain.hookNames.filter((name) => name.endsWith("hook_normalized") || name.endsWith("hook_scale") || name.endsWith("hook_pattern"));
    for (const name of normalized) {
      expectClose(after.cache.get(name).data, before.cache.get(name).data, 1e-4, name);
    }
  });

  it("foldLn: the LayerNorms become weight 1, bias 0; q, k, v, z and the residual stream are unchanged", async () => {
    const plain = await loadPlain();
    const processed = await loadHookedGpt2(dir, { processing: { foldLn: true } });
    const { weights } = processed.model;
    for (const array of [weights.lnFinalWeight, ...weights.blocks.flatMap((b) => [b.ln1Weight, b.ln2Weight])]) expect([...new Set(array)]).toEqual([1]);
    for (const array of [weights.lnFinalBias, ...weights.blocks.flatMap((b) => [b.ln1Bias, b.ln2Bias])]) expect([...new Set(array)]).toEqual([0]);
    expect(weights.unembedBias).toBeDefined();
    const before = plain.run(tokens, { cache: true });
    const after = processed.run(tokens, { cache: true });
    for (const name of plain.hookNames.filter((n) => /hook_(q|k|v|z|resid_post|mlp_out|attn_out)$|mlp\.hook_pre$/.test(n))) {
      expectClose(after.cache.get(name).data, before.cache.get(name).data, 1e-4, name);
    }
  });

  it("centerWritingWeights: every residual stream and every write to it is centred over d_model", async () => {
    const processed = await loadHookedGpt2(dir, { processing: { centerWritingWeights: true } });
    const plain = await loadPlain();
    const { cache } = processed.run(tokens, { cache: true });
    const writes = processed.hookNames.filter((n) => /hook_(embed|pos_embed|resid_pre|resid_mid|resid_post|attn_out|mlp_out)$/.test(n));
    for (const name of writes) expect(relativeRowMean(cache.get(name)), name).toBeLessThan(1e-5);
    // Uncentred before, so the test would notice a no-op.
    const before = plain.run(tokens, { cache: ["blocks.0.hook_resid_pre"] }).cache;
    expect(relativeRowMean(before.get("blocks.0.hook_resid_pre"))).toBeGreaterThan(1e-3);
  });

  it("centerUnembed: W_U is centred over the vocabulary", async () => {
    const processed = await loadHookedGpt2(dir, { processing: { centerUnembed: true } });
    const { dModel: d, dVocab } = processed.config;
    const wUt = processed.model.weights.unembedTransposed;
    const means = new Float64Array(d);
    for (let t = 0; t < dVocab; t++) for (let j = 0; j < d; j++) means[j] += wUt[t * d + j]!;
    for (let j = 0; j < d; j++) expect(Math.abs(means[j]! / dVocab)).toBeLessThan(1e-6);
  });

  it("foldValueBiases: hook_v and hook_z lose b_V, attn_out is unchanged", async () => {
    const plain = await loadPlain();
    const processed = await loadHookedGpt2(dir, { processing: { foldValueBiases: true } });
    const { dModel: d, nHeads, dHead } = plain.config;
    const before = plain.run(tokens, { cache: true });
    const after = processed.run(tokens, { cache: true });
    plain.model.weights.blocks.forEach((block, layer) => {
      const bV = block.qkvBias.subarray(2 * d, 3 * d);
      expect([...new Set(processed.model.weights.blocks[layer]!.qkvBias.subarray(2 * d))]).toEqual([0]);
      for (const suffix of ["attn.hook_v", "attn.hook_z"] as const) {
        const name = `blocks.${layer}.${suffix}` as HookName;
        const expected = before.cache.get(name).data.map((x, i) => x - bV[i % (nHeads * dHead)]!);
        expectClose(after.cache.get(name).data, expected, 1e-4, name);
      }
      const attnOut = `blocks.${layer}.hook_attn_out` as HookName;
      expectClose(after.cache.get(attnOut).data, before.cache.get(attnOut).data, 1e-4, attnOut);
    });
  });
});

describe("processing options", () => {
  const sources = { config: readFileSync(join(TINY_DIR, "config.json"), "utf8"), weights: new Uint8Array(readFileSync(join(TINY_DIR, "model.safetensors"))) };

  it("loadGpt2FromBytes and loadGpt2FromDir give the same processed model, on the reference and WebAssembly backends", async () => {
    const fromBytes = new HookedGpt2(loadGpt2FromBytes(sources, referenceBackend, { processing: "transformer-lens" }));
    const expected = fromBytes.run(tokens).logits;
    for (const backend of [referenceBackend, createWasmBackend()]) {
      if (backend === null) continue;
      const fromDir = new HookedGpt2(await loadGpt2FromDir(TINY_DIR, backend, { processing: "transformer-lens" }));
      expectClose(fromDir.run(tokens).logits.data, expected.data, 1e-5, backend.name);
    }
  });

  it("a packing backend keeps the processed matrices unloaded (computed from the file as they are packed)", async () => {
    const wasm = createWasmBackend();
    if (wasm === null) return;
    const model = await loadGpt2FromDir(TINY_DIR, wasm, { processing: "transformer-lens" });
    for (const key of ["qkvWeight", "outWeight", "mlpInWeight", "mlpOutWeight"]) expect(isWeightResident(model.weights.blocks[0]!, key), key).toBe(false);
    expect(isWeightResident(model.weights, "unembedTransposed")).toBe(false);
    // Read on demand, the processed values.
    const reference = loadGpt2FromBytes(sources, referenceBackend, { processing: "transformer-lens" });
    expect(model.weights.blocks[1]!.qkvWeight).toEqual(reference.weights.blocks[1]!.qkvWeight);
  });

  it.each([
    ["an unknown name", "tl", /processing must be "none", "transformer-lens" or an object of steps/],
    ["an unknown step", { foldLN: true }, /processing has no step "foldLN"/],
    ["a non-boolean step", { foldLn: 1 }, /processing\.foldLn must be a boolean, got 1/],
  ])("%s is an InputError (bad_option) before anything is read", async (_, processing, message) => {
    const error = await loadGpt2FromDir(join(TINY_DIR, "no-such-dir"), undefined, { processing: processing as never }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).code).toBe("bad_option");
    expect((error as InputError).message).toMatch(message);
    expect(() => loadGpt2FromBytes(sources, undefined, { processing: processing as never })).toThrow(message);
  });

  it("loadHookedGpt2 takes its options second or third; an object that is neither options nor a backend is bad_backend", async () => {
    expect((await loadHookedGpt2(TINY_DIR, undefined, { processing: { centerUnembed: true } })).model.weightsProcessing).toBe("centerUnembed");
    expect((await loadHookedGpt2(TINY_DIR, { processing: "none" })).model.weightsProcessing).toBe("huggingface");
    const error = await loadHookedGpt2(TINY_DIR, { name: "mine" } as never).catch((e: unknown) => e);
    expect((error as InputError).code).toBe("bad_backend");
    const badStep = await loadHookedGpt2(TINY_DIR, { processing: { foldLn: "yes" } } as never).catch((e: unknown) => e);
    expect((badStep as InputError).code).toBe("bad_option");
  });

  it("processed weights are not processed again", () => {
    const model = loadGpt2FromBytes(sources, referenceBackend, { processing: { foldLn: true } });
    expect(() => processWeights(model.weights, model.config, { centerUnembed: true })).toThrow(/processed already \(foldLn\)/);
  });
});
