/**
 * Row-wise log Σ exp over GPT-2-vocabulary logits: the float64 Math.exp loop (the fallback of
 * `logSumExpRows` in src/tasks/greater-than/metrics.ts) vs the WebAssembly SIMD kernel
 * (src/tensor/wasm/wasm-logsumexp.ts).
 *
 * Run under Deno (runs TypeScript directly):
 *   npx deno run -A bench/logsumexp.ts [--quick] [--sweep]
 * `--quick`: fewer rows for the Math.exp path. `--sweep`: also time kernel unroll variants.
 * Timings include the wasm path's copy of the input into wasm memory.
 */
import { createLogSumExp } from "../src/tensor/wasm/wasm-logsumexp.ts";

const args: readonly string[] =
  (globalThis as unknown as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process?: { argv: string[] } }).process?.argv.slice(2) ??
  [];
const quick = args.includes("--quick");
const sweep = args.includes("--sweep");

const ROWS = 490;
const VOCAB = 50257;

/** Logits-like data: N(0, 3)-ish via xorshift, a few large outliers per row. */
function logits(rows: number, cols: number, seed: number): Float32Array {
  const out = new Float32Array(rows * cols);
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  for (let i = 0; i < out.length; i++) out[i] = (next() + next() + next() - 1.5) * 6 - 80;
  for (let r = 0; r < rows; r++) out[r * cols + Math.floor(next() * cols)] = -60;
  return out;
}

/** The float64 Math.exp reference (same loop as the metrics.ts fallback). */
function logSumExpMath(v: Float32Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const start = r * cols;
    let max = -Infinity;
    for (let i = start; i < start + cols; i++) if (v[i] > max) max = v[i];
    let sum = 0;
    for (let i = start; i < start + cols; i++) sum += Math.exp(v[i] - max);
    out[r] = max + Math.log(sum);
  }
  return out;
}

function time(fn: () => void, warmup: number, reps: number): { median: number; best: number } {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) / 1000);
  }
  samples.sort((x, y) => x - y);
  return { median: samples[Math.floor(samples.length / 2)], best: samples[0] };
}

const data = logits(ROWS, VOCAB, 12345);
const elements = ROWS * VOCAB;
const ns = (seconds: number, n: number): string => ((seconds * 1e9) / n).toFixed(3).padStart(7);

const mathRows = quick ? 49 : ROWS;
const mathData = data.subarray(0, mathRows * VOCAB);
let reference: Float64Array = new Float64Array(0);
const tMath = time(() => { reference = logSumExpMath(mathData, mathRows, VOCAB); }, 1, quick ? 2 : 3);
console.log(`${ROWS}x${VOCAB} float32 logits (Math.exp path timed on ${mathRows} rows)`);
console.log(`Math.exp (float64)       : ${ns(tMath.median, mathRows * VOCAB)} ns/element median, ${ns(tMath.best, mathRows * VOCAB)} best; ${(tMath.median * (ROWS / mathRows)).toFixed(2)} s for ${ROWS} rows`);

const variants: [string, number, number, boolean][] = sweep
  ? [
      ["unroll 1", 1, 4, true], ["unroll 2", 2, 4, true], ["unroll 4", 4, 4, true], ["unroll 8", 8, 4, true],
      ["unroll 4, max 8", 4, 8, true], ["unroll 4, f64", 4, 4, false], ["unroll 8, f64", 8, 4, false],
    ]
  : [["default", 4, 4, true]];
// Variants are timed round-robin (one call each per round) so background load hits them alike.
const runs = variants.map(([name, unroll, maxUnroll, pairwise]) => ({
  name,
  lse: createLogSumExp({ kernel: { unroll, maxUnroll, pairwise } }),
  samples: [] as number[],
  out: new Float64Array(0) as Float64Array,
}));
if (runs.some((r) => r.lse === null)) {
  console.log("WebAssembly SIMD unavailable");
} else {
  for (const r of runs) for (let i = 0; i < 2; i++) r.out = r.lse!(data, ROWS, VOCAB);
  for (let round = 0; round < (quick ? 5 : 9); round++) {
    for (const r of runs) {
      const t0 = performance.now();
      r.out = r.lse!(data, ROWS, VOCAB);
      r.samples.push((performance.now() - t0) / 1000);
    }
  }
  const mathPerRow = tMath.median / mathRows;
  for (const r of runs) {
    r.samples.sort((x, y) => x - y);
    const median = r.samples[Math.floor(r.samples.length / 2)];
    const best = r.samples[0];
    let err = 0;
    for (let row = 0; row < mathRows; row++) err = Math.max(err, Math.abs(r.out[row] - reference[row]));
    console.log(
      `wasm SIMD (${r.name.padEnd(15)}): ${ns(median, elements)} ns/element median, ${ns(best, elements)} best; ` +
        `${(median * 1000).toFixed(1)} ms for ${ROWS} rows; speed-up ${(mathPerRow / (median / ROWS)).toFixed(1)}x median, ` +
        `${(tMath.best / mathRows / (best / ROWS)).toFixed(1)}x best; max |Δ| vs float64 ${err.toExponential(2)}`,
    );
  }
}
