/**
 * Single-thread GEMM throughput: WebAssembly SIMD kernel (WasmGemm) vs the plain-TS reference.
 *
 * Run under Deno (runs TypeScript directly):
 *   npx deno run -A bench/gemm.ts
 * Run under Node 20 (no type stripping there; compile this file and its imports first, inside
 * the repository: the bench helpers locate it from their own path):
 *   npx tsc bench/gemm.ts --outDir .bench-cache/node --rootDir . --module nodenext --target es2022 \
 *     --types node --allowImportingTsExtensions --rewriteRelativeImportExtensions --skipLibCheck \
 *     && node .bench-cache/node/bench/gemm.js
 * Options: `--quick` (fewer repetitions, skip the reference on the big shapes), `--relaxed`
 * (use relaxed-SIMD FMA when the engine has it), `--splat-from-vector` (A broadcast by shuffles).
 *
 * Reported per shape: wall-clock GFLOP/s (median and best call) and GFLOP per process-CPU-second
 * (best call), which stays meaningful when other jobs share the machine.
 * Timings include matmul's copy of A in and C out (the caller's arrays are ordinary
 * Float32Arrays); packing B is done once, outside the timed region.
 */
import { matmulReference } from "../test/helpers/reference-matmul.ts";
import { WasmGemm } from "../src/backend/wasm/gemm/wasm-gemm.ts";
import { cpuSeconds, gflops, randomMatrix } from "./gemm-timing.ts";

const args: readonly string[] =
  (globalThis as unknown as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process?: { argv: string[] } }).process?.argv.slice(2) ??
  [];
const quick = args.includes("--quick");
const relaxed = args.includes("--relaxed");
const splatFromVector = args.includes("--splat-from-vector");

/**
 * Median and best wall seconds per call over up to `reps` calls (within a time budget) after
 * `warmup` calls, plus the best process-CPU seconds per call: on a machine shared with other jobs
 * the CPU figure shows what one thread achieves while it actually runs.
 */
function time(fn: () => void, warmup: number, reps: number, budgetSeconds = 3): { median: number; best: number; bestCpu: number } {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  let bestCpu = Infinity;
  const start = performance.now();
  for (let i = 0; i < reps; i++) {
    const c0 = cpuSeconds();
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) / 1000);
    bestCpu = Math.min(bestCpu, cpuSeconds() - c0);
    if ((performance.now() - start) / 1000 > budgetSeconds && samples.length >= 3) break;
  }
  samples.sort((x, y) => x - y);
  return { median: samples[Math.floor(samples.length / 2)], best: samples[0], bestCpu };
}

const gemm = WasmGemm.create({ relaxedSimd: relaxed, kernel: splatFromVector ? { splatFromVector } : undefined });
if (gemm === null) {
  console.log("WebAssembly SIMD unavailable: nothing to benchmark");
} else {
  console.log(`kernel: ${gemm.layout.mr}x${gemm.layout.nr} register tile${gemm.relaxedSimd ? ", relaxed-SIMD FMA" : ""}${splatFromVector ? ", A splats by shuffle" : ""}; single thread`);
  const shapes: [string, number, number, number][] = [
    ["qkv   416x768 . 768x2304", 416, 768, 2304],
    ["mlp  1024x768 . 768x3072", 1024, 768, 3072],
    ["unemb  13x768 . 768x50257", 13, 768, 50257],
  ];
  for (const [label, m, k, n] of shapes) {
    const flops = 2 * m * k * n;
    const a = randomMatrix(m * k, 1);
    const b = randomMatrix(k * n, 2);
    const bias = randomMatrix(n, 3);
    const out = new Float32Array(m * n);
    const packed = gemm.pack(b, k, n);
    const tw = time(() => gemm.matmul(a, m, packed, out, bias), 3, quick ? 5 : 20);
    let line = `${label}: wasm ${gflops(flops, tw.median)} GFLOP/s median, ${gflops(flops, tw.best)} best, ${gflops(flops, tw.bestCpu)} per CPU-s (${(tw.median * 1000).toFixed(1)} ms)`;
    if (!quick || flops < 2e9) {
      const ref = new Float32Array(m * n);
      const tr = time(() => matmulReference(a, m, k, b, n, ref, bias), 1, quick ? 1 : 3, 5);
      let maxErr = 0;
      let maxAbs = 0;
      for (let i = 0; i < ref.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(out[i] - ref[i]));
        maxAbs = Math.max(maxAbs, Math.abs(ref[i]));
      }
      line += ` | reference ${gflops(flops, tr.median)} GFLOP/s (${(tr.median * 1000).toFixed(0)} ms)`;
      line += ` | rel.err ${(maxErr / maxAbs).toExponential(1)}`;
    }
    console.log(line);
    gemm.free(packed.buffer);
  }
}
