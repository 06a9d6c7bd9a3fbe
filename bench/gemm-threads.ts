/**
 * GEMM throughput with the worker pool (NodeGemmPool): 1 thread vs N threads on the same shared
 * memory, plus the plain single-threaded WasmGemm (non-shared memory) as the baseline.
 *
 * Run under Deno (runs TypeScript directly):
 *   npx deno run -A bench/gemm-threads.ts
 * Run under Node 20 (compile this file and its imports first, inside the repository: the bench
 * helpers locate it from their own path):
 *   npx tsc bench/gemm-threads.ts --outDir .bench-cache/node --rootDir . --module nodenext \
 *     --target es2022 --types node --allowImportingTsExtensions --rewriteRelativeImportExtensions \
 *     --skipLibCheck && node .bench-cache/node/bench/gemm-threads.js
 * Options: `--threads N` (default: os.availableParallelism()), `--quick` (fewer repetitions),
 * `--only WORD` (only shapes whose label contains WORD, e.g. `--only unembed`).
 *
 * Reported per shape and configuration: wall-clock GFLOP/s (median and best call). Timings include
 * the copy of A in and C out; packing B is done once, outside the timed region.
 */
import { availableParallelism } from "node:os";
import process from "node:process";
import { NodeGemmPool } from "../src/backend/wasm/threads/node-wasm-thread-pool.ts";
import { WasmGemm } from "../src/backend/wasm/gemm/wasm-gemm.ts";
import { gflops, randomMatrix } from "./gemm-timing.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const threadsArg = args.indexOf("--threads");
const threads = threadsArg >= 0 ? Number(args[threadsArg + 1]) : availableParallelism();
const onlyArg = args.indexOf("--only");
const only = onlyArg >= 0 ? args[onlyArg + 1] : undefined;

/**
 * Interleaved timing: each round calls every configuration once, so load from other processes
 * hits all of them alike. Returns median and best wall seconds per configuration.
 */
function timeInterleaved(fns: readonly (() => void)[], warmup: number, rounds: number, budgetSeconds = 6): { median: number; best: number }[] {
  for (let i = 0; i < warmup; i++) for (const fn of fns) fn();
  const samples: number[][] = fns.map(() => []);
  const start = performance.now();
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, i) => {
      const t0 = performance.now();
      fn();
      samples[i].push((performance.now() - t0) / 1000);
    });
    if ((performance.now() - start) / 1000 > budgetSeconds && r >= 2) break;
  }
  return samples.map((s) => {
    s.sort((x, y) => x - y);
    return { median: s[Math.floor(s.length / 2)], best: s[0] };
  });
}

const plain = WasmGemm.create();
const pool1 = NodeGemmPool.create({ threads: 1 });
const poolN = NodeGemmPool.create({ threads });
if (plain === null || pool1 === null || poolN === null) {
  console.log("WebAssembly SIMD or shared memory unavailable: nothing to benchmark");
} else {
  const ready = poolN.waitUntilReady();
  console.log(`${threads} threads (${availableParallelism()} cores available); workers ready: ${ready}`);
  // [label, m, k, n, seconds of timed rounds]: the unembedding (logits of a 32×13 batch) streams
  // a 154 MB packed B and takes ~1 s a call on one thread, so it gets a longer budget.
  const shapes: [string, number, number, number, number][] = [
    ["qkv      416x768 . 768x2304", 416, 768, 2304, 6],
    ["mlp     1024x768 . 768x3072", 1024, 768, 3072, 6],
    ["unembed  416x768 . 768x50257", 416, 768, 50257, 40],
  ];
  for (const [label, m, k, n, budget] of shapes) {
    if (only !== undefined && !label.includes(only)) continue;
    const flops = 2 * m * k * n;
    const a = randomMatrix(m * k, 1);
    const b = randomMatrix(k * n, 2);
    const bias = randomMatrix(n, 3);
    const reps = quick ? 5 : 30;
    const results: string[] = [];
    const configs: [string, (out: Float32Array) => void, () => void][] = [];
    {
      const packed = plain.pack(b, k, n);
      configs.push(["wasm (plain memory)", (out) => plain.matmul(a, m, packed, out, bias), () => plain.free(packed.buffer)]);
    }
    for (const [name, pool] of [["pool x1", pool1], [`pool x${poolN.activeThreads}`, poolN]] as const) {
      const packed = pool.pack(b, k, n);
      configs.push([name, (out) => pool.matmul(a, m, packed, out, bias), () => pool.free(packed)]);
    }
    const outs = configs.map(() => new Float32Array(m * n));
    const chunks0 = poolN.workerChunks;
    const times = timeInterleaved(configs.map(([, run], i) => () => run(outs[i])), flops > 1e10 ? 1 : 3, reps, quick ? budget / 3 : budget);
    const byWorkers = poolN.workerChunks - chunks0;
    configs.forEach(([name, , release], i) => {
      const t = times[i];
      const speedup = `x${(times[0].median / t.median).toFixed(2)} median, x${(times[0].best / t.best).toFixed(2)} best`;
      results.push(`${name.padEnd(20)} ${gflops(flops, t.median)} GFLOP/s median ${gflops(flops, t.best)} best (${(t.median * 1000).toFixed(1)} ms; ${speedup})`);
      release();
    });
    results.push(`chunks run by workers: ${byWorkers}`);
    const same = outs.every((o) => o.every((v, i) => Object.is(v, outs[0][i])));
    console.log(`${label}:\n  ${results.join("\n  ")}\n  results identical: ${same}`);
  }
  await poolN.close();
}
