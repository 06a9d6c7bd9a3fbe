/**
 * Forward-pass throughput of a GPT-2-small-shaped model (12 layers, d_model 768, 12 heads, d_mlp 3072,
 * n_ctx 1024, vocab 50257) with random weights, through the public API: `HookedGpt2.run`, no hooks,
 * full logits.
 *
 *   npx deno run -A bench/forward.ts            (or: npm run bench:forward)
 *   options: --shapes 1x13,8x128   --reps 3   --warmup 1
 *
 * The weights are written once (bench/random-gpt2.ts) as a HuggingFace-style directory (config.json +
 * model.safetensors, ~500 MB) under .bench-cache/gpt2-small-random/ and loaded with loadGpt2FromDir, so
 * the real load path (read, strict safetensors parse, weight preparation) is what the reported load time
 * measures.
 * Each shape: `warmup` untimed runs, then the median of `reps` timed runs.
 */
import process from "node:process";
import { loadGpt2FromDir } from "../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../src/hooks/hooked-gpt2.ts";
import { ensureRandomGpt2, GPT2_SMALL_SHAPE as SHAPE, randomFill, RANDOM_GPT2_SEED as SEED } from "./random-gpt2.ts";

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

const { dir: CACHE_DIR, written } = await ensureRandomGpt2();
if (written) console.log(`wrote random weights (${(written.bytes / 1e6).toFixed(0)} MB) to ${CACHE_DIR} in ${fmt(written.seconds)}`);

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
