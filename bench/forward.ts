/**
 * Forward-pass throughput of a GPT-2-small-shaped model (12 layers, d_model 768, 12 heads, d_mlp 3072,
 * n_ctx 1024, vocab 50257) with random weights, through the public API: `HookedGpt2.run`, no hooks,
 * full logits.
 *
 *   npx deno run -A bench/forward.ts            (or: npm run bench:forward)
 *   options: --shapes 1x13,8x128   --reps 3   --warmup 1
 *
 * The weights are written once as a HuggingFace-style directory (config.json + model.safetensors, ~500 MB)
 * under .bench-cache/gpt2-small-random/ and loaded with loadGpt2FromDir, so the real load path (read,
 * strict safetensors parse, weight preparation) is what the reported load time measures.
 * Each shape: `warmup` untimed runs, then the median of `reps` timed runs.
 */
import { mkdir } from "node:fs/promises";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { loadGpt2FromDir } from "../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../src/hooks/hooked-gpt2.ts";
import { fileExists, writeFileAtomic } from "../src/io/node-files.ts";
import { serializeSafetensors, type TensorToWrite } from "../src/io/safetensors.ts";

const SHAPE = { nLayer: 12, nEmbd: 768, nHead: 12, nInner: 3072, nPositions: 1024, vocab: 50257 } as const;
const CACHE_DIR = fileURLToPath(new URL("../.bench-cache/gpt2-small-random/", import.meta.url));
const SEED = 0x5eed;

function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function positiveInt(name: string, fallback: number, min = 1): number {
  const raw = option(name);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, got ${raw}`);
  return value;
}

const shapes = (option("shapes") ?? "1x13,32x13,8x128").split(",").map((s) => {
  const [batch, seq] = s.split(/[x×]/).map(Number) as [number, number];
  if (!(batch >= 1 && seq >= 1 && seq <= SHAPE.nPositions)) throw new Error(`bad shape "${s}" (want BATCHxSEQ)`);
  return { batch, seq };
});
const reps = positiveInt("reps", 3);
const warmup = positiveInt("warmup", 1, 0);

/** xorshift32 → uniform floats in [-scale, scale). */
function randomFill(out: Float32Array, state: { s: number }, scale: number): Float32Array {
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

/** Writes config.json + model.safetensors in the layout `save_pretrained` produces (tied embeddings). */
async function writeRandomModel(dir: string): Promise<number> {
  const { nLayer, nEmbd: d, nInner, nPositions, vocab } = SHAPE;
  const state = { s: SEED };
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
  const bytes = serializeSafetensors(tensors, { format: "pt", note: `gpt2-lens bench: random weights, seed ${SEED}` });
  const config = {
    activation_function: "gelu_new",
    architectures: ["GPT2LMHeadModel"],
    layer_norm_epsilon: 1e-5,
    model_type: "gpt2",
    n_embd: d,
    n_head: SHAPE.nHead,
    n_inner: null,
    n_layer: nLayer,
    n_positions: nPositions,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    vocab_size: vocab,
  };
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(`${dir}model.safetensors`, bytes);
  // config.json last: a directory with a config.json holds complete weights.
  await writeFileAtomic(`${dir}config.json`, new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
  return bytes.length;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function randomTokens(batch: number, seq: number, seed: number): number[][] {
  const state = { s: seed };
  const u = new Float32Array(batch * seq);
  randomFill(u, state, 1);
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length: seq }, (_, p) => Math.min(SHAPE.vocab - 1, Math.floor(((u[b * seq + p]! + 1) / 2) * SHAPE.vocab))),
  );
}

const fmt = (seconds: number) => `${seconds.toFixed(3)} s`;
const runtime = "Deno" in globalThis ? `Deno ${(globalThis as { Deno?: { version: { deno: string } } }).Deno!.version.deno}` : `Node ${process.version}`;

if (!((await fileExists(`${CACHE_DIR}config.json`)) && (await fileExists(`${CACHE_DIR}model.safetensors`)))) {
  const t0 = performance.now();
  const size = await writeRandomModel(CACHE_DIR);
  console.log(`wrote random weights (${(size / 1e6).toFixed(0)} MB) to ${CACHE_DIR} in ${fmt((performance.now() - t0) / 1000)}`);
}

const loadStart = performance.now();
const gpt2 = await loadGpt2FromDir(CACHE_DIR);
const loadSeconds = (performance.now() - loadStart) / 1000;
const model = new HookedGpt2(gpt2);
const { config } = model;
console.log(
  `GPT-2-small shape (${config.nLayers} layers, d_model ${config.dModel}, ${config.nHeads} heads, d_mlp ${config.dMlp}, ` +
    `n_ctx ${config.nCtx}, vocab ${config.dVocab}), random weights; ${runtime}; matmul backend "${gpt2.backend.name}"`,
);
console.log(`load (read + parse + prepare) ${fmt(loadSeconds)}`);
console.log(`forward, full logits: ${warmup} warm-up run(s), then the median of ${reps}`);
console.log("batch×seq   tokens   median       tokens/s   runs");

for (const { batch, seq } of shapes) {
  const tokens = randomTokens(batch, seq, SEED + batch * 1000 + seq);
  for (let i = 0; i < warmup; i++) model.run(tokens);
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const { logits } = model.run(tokens);
    samples.push((performance.now() - t0) / 1000);
    if (logits.size !== batch * seq * config.dVocab) throw new Error(`logits of shape [${logits.shape}]`);
  }
  const seconds = median(samples);
  console.log(
    `${`${batch}×${seq}`.padEnd(11)} ${String(batch * seq).padStart(6)}   ${fmt(seconds).padStart(9)}   ` +
      `${(batch * seq / seconds).toFixed(1).padStart(9)}   ${samples.map((s) => s.toFixed(3)).join(", ")}`,
  );
}
