/**
 * Attention scores (q·kᵀ/√d_head, causal mask) and value mixing (pattern · v) at GPT-2-small
 * sizes: the plain-TypeScript loops of src/gpt2/components/attention.ts vs the WebAssembly SIMD kernels
 * (src/backend/wasm/wasm-attention.ts). Timings include the wasm path's copies in and out of wasm
 * memory.
 *
 * Run under Deno (runs TypeScript directly):
 *   npx deno run -A bench/attention.ts [--batch 8] [--seq 128] [--quick]
 */
import { attentionScores, mixValues } from "../src/gpt2/components/attention.ts";
import { softmaxLastAxis } from "../src/tensor/softmax.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { WasmAttention } from "../src/backend/wasm/wasm-attention.ts";

const args: readonly string[] =
  (globalThis as unknown as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process?: { argv: string[] } }).process?.argv.slice(2) ??
  [];
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const quick = args.includes("--quick");
const BATCH = flag("--batch", 8);
const POS = flag("--seq", 128);
const HEADS = 12;
const D_HEAD = 64;

/** The plain-TypeScript path of src/gpt2/components/attention.ts (no kernels passed). */
function scoresJs(qd: Float32Array, kd: Float32Array): Float32Array {
  const shape = [BATCH, POS, HEADS, D_HEAD];
  return attentionScores(new Tensor(qd, shape), new Tensor(kd, shape)).data;
}

function mixJs(pd: Float32Array, vd: Float32Array): Float32Array {
  return mixValues(new Tensor(pd, [BATCH, HEADS, POS, POS]), new Tensor(vd, [BATCH, POS, HEADS, D_HEAD])).data;
}

function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2147483648 - 1;
  }
  return out;
}

function time(fn: () => void, reps: number): { median: number; best: number } {
  fn();
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((x, y) => x - y);
  return { median: samples[Math.floor(samples.length / 2)], best: samples[0] };
}

const wasm = WasmAttention.create();
if (wasm === null) {
  console.log("WebAssembly SIMD unavailable");
} else {
  const n = BATCH * POS * HEADS * D_HEAD;
  const q = random(n, 1), k = random(n, 2), v = random(n, 3);
  const scores = scoresJs(q, k);
  // Softmax of the scores: the pattern mixValues sees in a forward pass.
  const pattern = softmaxLastAxis(new Tensor(scores, [BATCH, HEADS, POS, POS])).data;
  const reps = quick ? 3 : 7;
  const wScores = new Float32Array(scores.length);
  const wZ = new Float32Array(n);
  let zRef: Float32Array = new Float32Array(0);
  const results = [
    ["attentionScores", time(() => void scoresJs(q, k), reps),
      time(() => wasm.attentionScores(q, k, BATCH, POS, POS, HEADS, D_HEAD, wScores), reps)],
    ["mixValues", time(() => void (zRef = mixJs(pattern, v)), reps),
      time(() => wasm.mixValues(pattern, v, BATCH, POS, POS, HEADS, D_HEAD, wZ), reps)],
  ] as const;
  console.log(`batch ${BATCH} × ${POS} positions, ${HEADS} heads × d_head ${D_HEAD} (per layer)`);
  for (const [name, js, w] of results) {
    console.log(
      `${name.padEnd(16)} TypeScript ${js.median.toFixed(1).padStart(7)} ms median (${js.best.toFixed(1)} best); ` +
        `wasm SIMD ${w.median.toFixed(2).padStart(6)} ms median (${w.best.toFixed(2)} best); speed-up ${(js.median / w.median).toFixed(1)}x`,
    );
  }
  let dScores = 0, dZ = 0;
  for (let i = 0; i < scores.length; i++) if (Number.isFinite(scores[i])) dScores = Math.max(dScores, Math.abs(scores[i] - wScores[i]));
  for (let i = 0; i < n; i++) dZ = Math.max(dZ, Math.abs(zRef[i] - wZ[i]));
  console.log(`max |Δ| scores ${dScores.toExponential(2)}, z ${dZ.toExponential(2)}`);
}
