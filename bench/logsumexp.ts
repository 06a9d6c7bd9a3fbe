/**
 * Row-wise log Σ exp over GPT-2-vocabulary logits: the float64 Math.exp loop (the fallback of
 * `logSumExpRows` in src/tasks/greater-than/metrics.ts) vs the WebAssembly SIMD kernel
 * (src/backend/wasm/wasm-logsumexp.ts), which copies its input into its own memory ("default"),
 * or reads it in place in the memory it was instantiated against ("in place"), or in place in the
 * worker pool's memory with the rows split over the pool's threads ("pool rows", a row job).
 *
 * `--product`: instead, productLogSumExp (src/backend/product-log-sum-exp.ts) of [490, k] ·
 * W [k, 50257], k = 768 (unembedding patched residuals) and k = 64 (the head-space logits sweep),
 * on the worker-pool backend: plain blocks (no workspace: the pool stages C and copies it out)
 * vs blocks in its workspace (written in place) vs a workspace that also names its memory (the
 * log-sum-exp reads the blocks in place too) vs the pool's own workspace (whose log-sum-exp also
 * splits the rows over the pool's threads).
 *
 * Run under Deno (runs TypeScript directly):
 *   npx deno run -A bench/logsumexp.ts [--quick] [--sweep] [--product]
 * or under Node, where the wasm kernels run faster (see bench/node-compile.ts):
 *   npx tsc bench/logsumexp.ts --outDir .bench-cache/node --rootDir . --module nodenext \
 *     --target es2022 --types node --allowImportingTsExtensions --rewriteRelativeImportExtensions \
 *     --skipLibCheck && node .bench-cache/node/bench/logsumexp.js [--product]
 * `--quick`: fewer rows for the Math.exp path (fewer rounds with --product). `--sweep`: also time
 * kernel unroll variants. Configurations are timed round-robin in one process (background load
 * hits them alike); the load average is printed.
 */
import { loadavg } from "node:os";
import type { MatmulBackend } from "../src/backend/backend.ts";
import { productLogSumExp } from "../src/backend/product-log-sum-exp.ts";
import { NodeGemmPool } from "../src/backend/wasm/threads/node-wasm-thread-pool.ts";
import { createParallelWasmBackend } from "../src/backend/wasm/threads/node-parallel-backend.ts";
import { createPoolLogSumExp } from "../src/backend/wasm/threads/pool-logsumexp.ts";
import { webAssembly } from "../src/backend/wasm/wasm-api.ts";
import { createLogSumExp, createLogSumExpInMemory, LOG_SUM_EXP_TAIL_PAD } from "../src/backend/wasm/wasm-logsumexp.ts";
import { randomMatrix } from "./gemm-timing.ts";

const args: readonly string[] =
  (globalThis as unknown as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process?: { argv: string[] } }).process?.argv.slice(2) ??
  [];
const quick = args.includes("--quick");
const sweep = args.includes("--sweep");
const product = args.includes("--product");

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

function kernelBench(): void {
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
  const runs = variants.map(([name, unroll, maxUnroll, pairwise]) => {
    const lse = createLogSumExp({ kernel: { unroll, maxUnroll, pairwise } });
    return { name, call: lse && (() => lse(data, ROWS, VOCAB)), samples: [] as number[], out: new Float64Array(0) as Float64Array };
  });
  runs.push({ name: "in place", call: inPlace(), samples: [], out: new Float64Array(0) });
  const pool = NodeGemmPool.create();
  pool?.waitUntilReady();
  runs.push({ name: `pool rows ×${pool?.activeThreads ?? 0}`, call: pool && inPool(pool), samples: [], out: new Float64Array(0) });
  if (runs.some((r) => r.call === null)) {
    console.log("WebAssembly SIMD unavailable");
  } else {
    for (const r of runs) for (let i = 0; i < 2; i++) r.out = r.call!();
    for (let round = 0; round < (quick ? 5 : 15); round++) {
      for (const r of runs) {
        const t0 = performance.now();
        r.out = r.call!();
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
  if (pool !== null) {
    const calls = runs.find((r) => r.name.startsWith("pool rows"))!.samples.length + 2;
    console.log(`pool rows: the workers ran ${(pool.workerChunks / calls).toFixed(1)} of ${(4 * pool.activeThreads)} chunks per call on average`);
    void pool.close();
  }
}

/** The pool's row-split kernel on `data` in the pool's memory (copied in once). */
function inPool(pool: NodeGemmPool): () => Float64Array {
  const lse = createPoolLogSumExp(pool);
  const values = pool.allocView(data.length + LOG_SUM_EXP_TAIL_PAD / 4).view.subarray(0, data.length);
  values.set(data);
  const room = pool.allocView(4 * ROWS + 2).view;
  const out = new Float64Array(room.buffer, Math.ceil(room.byteOffset / 8) * 8, 2 * ROWS);
  return () => lse(values, ROWS, VOCAB, out);
}

/** The default kernel on `data` already in a memory it was instantiated against (copied in once). */
function inPlace(): (() => Float64Array) | null {
  const wa = webAssembly();
  if (wa === undefined) return null;
  const base = 64;
  const stats = base + data.length * 4 + LOG_SUM_EXP_TAIL_PAD;
  const memory = new wa.Memory({ initial: Math.ceil((stats + 16 * ROWS) / 65536) });
  const lse = createLogSumExpInMemory(memory);
  if (lse === null) return null;
  const values = new Float32Array(memory.buffer, base, data.length);
  values.set(data);
  const out = new Float64Array(memory.buffer, stats, 2 * ROWS);
  return () => lse(values, ROWS, VOCAB, out);
}

/** productLogSumExp on plain blocks vs workspace blocks vs workspace blocks read in place. */
function productBench(): void {
  const backend = createParallelWasmBackend();
  if (backend === null) {
    console.log("worker-pool backend unavailable (no wasm SIMD or shared memory)");
    return;
  }
  backend.pool.waitUntilReady();
  const workspace = backend.workspace!;
  const configs: [string, MatmulBackend][] = [
    ["plain blocks", { ...backend, workspace: undefined }],
    // Wrappers, so that the second names no memory and the third names it whatever the pool's does.
    ["workspace", { ...backend, workspace: { alloc: (n) => workspace.alloc(n), release: (v) => workspace.release(v) } }],
    ["workspace + memory", { ...backend, workspace: { alloc: (n) => workspace.alloc(n), release: (v) => workspace.release(v), memory: backend.pool.memory } as typeof workspace }],
    ["pool's workspace", backend],
  ];
  const m = ROWS, n = VOCAB;
  const pick = Array.from({ length: 100 }, (_, i) => 1000 + i);
  console.log(`productLogSumExp [${m}, k]·[k, ${n}] on ${backend.name}, ${backend.pool.activeThreads} threads; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  for (const k of [768, 64]) {
    const w = k === 768 ? backend.prepareTransposed(randomMatrix(n * k, 7), n, k) : backend.prepare(randomMatrix(k * n, 8), k, n);
    const a = randomMatrix(m * k, 9).map((x) => x * 4);
    const samples = configs.map(() => [] as number[]);
    const outs = configs.map(([, b]) => productLogSumExp(b, a, m, w, pick));
    const rounds = k === 768 ? (quick ? 3 : 7) : quick ? 5 : 15;
    for (let round = 0; round < rounds; round++) {
      configs.forEach(([, b], c) => {
        const t0 = performance.now();
        outs[c] = productLogSumExp(b, a, m, w, pick);
        samples[c]!.push(performance.now() - t0);
      });
    }
    const same = outs.every((o) => o.logSumExp.every((v, i) => Object.is(v, outs[0]!.logSumExp[i])) && o.picked.every((v, i) => Object.is(v, outs[0]!.picked[i])));
    console.log(`k = ${k}: ${rounds} rounds; results ${same ? "bit-identical" : "DIFFER"} across configurations`);
    configs.forEach(([name], c) => {
      const s = samples[c]!.sort((x, y) => x - y);
      console.log(`  ${name.padEnd(19)}: ${s[Math.floor(s.length / 2)]!.toFixed(1).padStart(7)} ms median, ${s[0]!.toFixed(1).padStart(7)} ms best`);
    });
    backend.release!(w);
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  void backend.close();
}

if (product) productBench();
else kernelBench();
