/**
 * A GPT-2-small-shaped model (12 layers, d_model 768, 12 heads, d_mlp 3072, n_ctx 1024, vocab 50257)
 * with seeded random weights, written once as a HuggingFace-style directory (config.json +
 * model.safetensors, ~500 MB) under .bench-cache/gpt2-small-random/. Shared by bench/forward.ts and
 * bench/run-all.ts (`npm run bench`), which also feeds the same file to bench/torch_gpt2.py.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileExists, writeFileAtomic } from "../src/io/node-files.ts";
import { serializeSafetensors, type TensorToWrite } from "../src/io/safetensors.ts";
import { repoRoot } from "./repo-root.ts";

export const GPT2_SMALL_SHAPE = { nLayer: 12, nEmbd: 768, nHead: 12, nInner: 3072, nPositions: 1024, vocab: 50257 } as const;
export const RANDOM_GPT2_DIR = join(repoRoot(), ".bench-cache/gpt2-small-random/");
export const RANDOM_GPT2_SEED = 0x5eed;

/** xorshift32 → uniform floats in [-scale, scale). */
export function randomFill(out: Float32Array, state: { s: number }, scale: number): Float32Array {
  let s = state.s;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 * 2 - 1) * scale;
  }
  state.s = s;
  return out;
}

/** Writes config.json + model.safetensors in the layout `save_pretrained` produces (tied embeddings); returns the weight file's size. */
export async function writeRandomGpt2(dir: string): Promise<number> {
  const { nLayer, nEmbd: d, nInner, nPositions, vocab } = GPT2_SMALL_SHAPE;
  const state = { s: RANDOM_GPT2_SEED };
  const tensors = new Map<string, TensorToWrite>();
  // Uniform on ±0.0346 has the std 0.02 of GPT-2's initializer_range.
  const add = (name: string, shape: number[], fill: "random" | "ones" | "zeros" | "small") => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (fill === "random") randomFill(data, state, 0.0346);
    else if (fill === "small") randomFill(data, state, 0.01);
    else if (fill === "ones") data.fill(1);
    tensors.set(`transformer.${name}`, { dtype: "F32", shape, data });
  };
  add("wte.weight", [vocab, d], "random");
  add("wpe.weight", [nPositions, d], "random");
  for (let layer = 0; layer < nLayer; layer++) {
    const h = `h.${layer}.`;
    add(`${h}ln_1.weight`, [d], "ones");
    add(`${h}ln_1.bias`, [d], "zeros");
    add(`${h}attn.c_attn.weight`, [d, 3 * d], "random");
    add(`${h}attn.c_attn.bias`, [3 * d], "small");
    add(`${h}attn.c_proj.weight`, [d, d], "random");
    add(`${h}attn.c_proj.bias`, [d], "small");
    add(`${h}ln_2.weight`, [d], "ones");
    add(`${h}ln_2.bias`, [d], "zeros");
    add(`${h}mlp.c_fc.weight`, [d, nInner], "random");
    add(`${h}mlp.c_fc.bias`, [nInner], "small");
    add(`${h}mlp.c_proj.weight`, [nInner, d], "random");
    add(`${h}mlp.c_proj.bias`, [d], "small");
  }
  add("ln_f.weight", [d], "ones");
  add("ln_f.bias", [d], "zeros");
  const bytes = serializeSafetensors(tensors, { format: "pt", note: `gpt2-lens bench: random weights, seed ${RANDOM_GPT2_SEED}` });
  const config = {
    activation_function: "gelu_new",
    architectures: ["GPT2LMHeadModel"],
    layer_norm_epsilon: 1e-5,
    model_type: "gpt2",
    n_embd: d,
    n_head: GPT2_SMALL_SHAPE.nHead,
    n_inner: null,
    n_layer: nLayer,
    n_positions: nPositions,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    vocab_size: vocab,
  };
  const slash = dir.endsWith("/") ? dir : `${dir}/`;
  await mkdir(slash, { recursive: true });
  await writeFileAtomic(`${slash}model.safetensors`, bytes);
  // config.json last: a directory with a config.json holds complete weights.
  await writeFileAtomic(`${slash}config.json`, new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
  return bytes.length;
}

/**
 * Writes the random model unless `dir` already holds one (a config.json is written last, so its
 * presence means complete weights). `written` is null when the files were already there.
 */
export async function ensureRandomGpt2(
  dir: string = RANDOM_GPT2_DIR,
): Promise<{ dir: string; written: { bytes: number; seconds: number } | null }> {
  const slash = dir.endsWith("/") ? dir : `${dir}/`;
  if ((await fileExists(`${slash}config.json`)) && (await fileExists(`${slash}model.safetensors`))) return { dir: slash, written: null };
  const t0 = performance.now();
  const bytes = await writeRandomGpt2(slash);
  return { dir: slash, written: { bytes, seconds: (performance.now() - t0) / 1000 } };
}
