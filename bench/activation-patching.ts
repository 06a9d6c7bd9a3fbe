/**
 * Activation patching speed: `activationPatching` (start at the patched layer's cached residual,
 * variants of a layer batched, logits only at END) vs a naive TransformerLens-style loop (one full
 * forward from the embedding per (layer, pos) variant, logits at every position, as
 * `get_act_patch_resid_pre` does), both sweeping resid_pre by layer_pos, denoising, on the bundled
 * greater-than model and the 490-prompt evaluation set.
 *
 *   npx deno run -A bench/activation-patching.ts [--prompts N] [--naive-variants K] [--reference]
 *
 * --prompts N          use the first N prompts (default 490; the cost is linear in N).
 * --naive-variants K   time the naive loop on K of the layer × pos variants (spread over the grid) and
 *                      extrapolate to all of them: every naive variant is the same full forward, so the
 *                      per-variant time is representative. Default 4; pass 52 for the whole loop
 *                      (about ten minutes on 490 prompts).
 * --reference          matmuls on the plain-TS reference kernels instead of the default backend
 *                      (WebAssembly SIMD where available); several times slower.
 *
 * The naive loop's metric values are checked against the fast sweep's (max relative difference).
 * activationPatching does not re-run variants whose patch changes nothing (here: positions before
 * YY, where clean and corrupted prompts agree, and layer 0 away from YY), which is most of the gain
 * on this task beyond the start-layer and END-only-logits savings.
 * Only Node built-ins that Deno provides are used.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { loadGpt2FromBytes } from "../src/gpt2/load.ts";
import type { TokenBatch } from "../src/gpt2/tokens.ts";
import { blockHook } from "../src/gpt2/hook-names.ts";
import { HookedGpt2 } from "../src/hooks/hooked-gpt2.ts";
import { parseSafetensors } from "../src/io/safetensors.ts";
import { activationPatching } from "../src/patching/activation-patching.ts";
import { selectBackend } from "../src/backend/select.ts";
import type { Tensor } from "../src/tensor/tensor.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const args = process.argv.slice(2);
function numberArg(name: string): number | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
  return value;
}

const modelDir = `${ROOT}models/greater-than-gpt2`;
const model = new HookedGpt2(
  loadGpt2FromBytes(
    { config: readFileSync(`${modelDir}/config.json`, "utf8"), weights: new Uint8Array(readFileSync(`${modelDir}/model.safetensors`)) },
    selectBackend(args.includes("--reference") ? "reference" : "auto"),
  ),
);
const golden = parseSafetensors(new Uint8Array(readFileSync(`${ROOT}test/fixtures/greater-than-gpt2-layer0/golden.safetensors`)));
const [total, pos] = golden.info("tokens").shape as [number, number];
const batch = Math.min(total, numberArg("--prompts") ?? total);
const take = (name: string): TokenBatch => ({ ids: golden.getInt32(name).slice(0, batch * pos), batch, pos });
const clean = take("tokens");
const corrupted = take("corrupted_tokens");
const yy = golden.getInt32("yy").slice(0, batch);
const yearTokens = golden.getInt32("year_tokens");
const END = pos - 1;
const { nLayers, dModel } = model.config;
const variants = nLayers * pos;
const naiveCount = Math.min(variants, numberArg("--naive-variants") ?? 4);

/** Mean over prompts of (mean END logit of years > YY) − (mean END logit of years ≤ YY). */
function yearLogitDiff(logits: Tensor, at: number): number {
  const [rows, positions, vocab] = logits.shape as [number, number, number];
  let sum = 0;
  for (let b = 0; b < rows; b++) {
    const row = (b * positions + at) * vocab;
    let above = 0, below = 0;
    for (let y = 0; y < 100; y++) {
      const logit = logits.data[row + yearTokens[y]!]!;
      if (y > yy[b]!) above += logit;
      else below += logit;
    }
    sum += above / (99 - yy[b]!) - below / (yy[b]! + 1);
  }
  return sum / rows;
}

console.log(
  `model: ${nLayers} layers, d_model ${dModel}, backend ${model.model.backend.name}; ` +
    `${batch} prompts × ${pos} tokens; resid_pre by layer_pos = ${variants} variants`,
);

let t0 = performance.now();
const fast = activationPatching(model, {
  component: "resid_pre", by: "layer_pos", clean, corrupted,
  metric: (logits) => yearLogitDiff(logits, 0), logitPositions: [END],
});
const fastSeconds = (performance.now() - t0) / 1000;
console.log(`activationPatching: ${fastSeconds.toFixed(2)} s (baseline clean ${(fast.baseline.clean as number).toFixed(3)}, corrupted ${(fast.baseline.corrupted as number).toFixed(3)})`);

// Naive: cache the clean run, then one hooked full forward per variant with logits everywhere.
// Variants spread over layers and positions (a stride coprime to the grid size when it is 52).
const picked = naiveCount === variants
  ? Array.from({ length: variants }, (_, v) => v)
  : [...new Set(Array.from({ length: naiveCount }, (_, i) => (i * 17 + 8) % variants))];
t0 = performance.now();
const names = Array.from({ length: nLayers }, (_, l) => blockHook(l, "hook_resid_pre"));
const cleanCache = model.run(clean, { cache: names }).cache;
const cacheSeconds = (performance.now() - t0) / 1000;
let maxRelDiff = 0;
for (const v of picked) {
  const layer = Math.floor(v / pos), p = v % pos;
  const source = cleanCache.get(names[layer]!);
  const { logits } = model.run(corrupted, {
    hooks: [[names[layer]!, (act) => {
      for (let b = 0; b < batch; b++) {
        const at = (b * pos + p) * dModel;
        act.data.set(source.data.subarray(at, at + dModel), at);
      }
    }]],
  });
  const value = yearLogitDiff(logits, END);
  const expected = fast.at(layer, p) as number;
  maxRelDiff = Math.max(maxRelDiff, Math.abs(value - expected) / Math.max(1e-6, Math.abs(expected)));
}
const naiveMeasured = (performance.now() - t0) / 1000;
const naiveSeconds = cacheSeconds + ((naiveMeasured - cacheSeconds) * variants) / picked.length;
console.log(
  `naive TransformerLens-style loop: ${naiveSeconds.toFixed(2)} s` +
    (picked.length < variants ? ` (extrapolated from ${picked.length} of ${variants} variants: ${naiveMeasured.toFixed(2)} s)` : ""),
);
console.log(`speed-up: ${(naiveSeconds / fastSeconds).toFixed(1)}×; max relative difference of the metric: ${maxRelDiff.toExponential(2)}`);
