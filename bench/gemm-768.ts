/**
 * GEMM 768×768·768×2304 (+bias) on one thread with our WebAssembly SIMD kernel, the figure
 * `npm run bench` reports as "GFLOP/s per thread": the default kernel (fused multiply-adds where the
 * engine has relaxed SIMD; Node 20 needs --experimental-wasm-relaxed-simd) and the plain one. Run as
 * a script it prints one line `RESULT {"kind":"gemm768",...}` per kernel; bench/run-all.ts runs it
 * under Node (compiled) and under Deno.
 */
import process from "node:process";
import { WasmGemm } from "../src/backend/wasm/gemm/wasm-gemm.ts";
import { cpuSeconds, randomMatrix } from "./gemm-timing.ts";

export interface Gemm768 {
  readonly median: number;
  readonly best: number;
  readonly perCpu: number;
  readonly calls: number;
  readonly medianMs: number;
  readonly tile: string;
  readonly fma: boolean;
  readonly runtime: string;
}

export function measureGemm768(relaxedSimd = true): Gemm768 | null {
  const gemm = WasmGemm.create({ relaxedSimd });
  if (!gemm) return null;
  const [m, k, n] = [768, 768, 2304];
  const flops = 2 * m * k * n;
  const a = randomMatrix(m * k, 1);
  const packed = gemm.pack(randomMatrix(k * n, 2), k, n);
  const bias = randomMatrix(n, 3);
  const out = new Float32Array(m * n);
  for (let i = 0; i < 3; i++) gemm.matmul(a, m, packed, out, bias);
  const wall: number[] = [];
  let bestCpu = Infinity;
  const start = performance.now();
  for (let i = 0; i < 30 && (i < 5 || performance.now() - start < 4000); i++) {
    const c0 = cpuSeconds();
    const t0 = performance.now();
    gemm.matmul(a, m, packed, out, bias);
    wall.push((performance.now() - t0) / 1000);
    bestCpu = Math.min(bestCpu, cpuSeconds() - c0);
  }
  gemm.free(packed.buffer);
  const sorted = [...wall].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const medianSeconds = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const deno = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
  return {
    median: flops / medianSeconds / 1e9,
    best: flops / sorted[0]! / 1e9,
    perCpu: flops / bestCpu / 1e9,
    calls: wall.length,
    medianMs: medianSeconds * 1000,
    tile: `${gemm.layout.mr}x${gemm.layout.nr}`,
    fma: gemm.relaxedSimd,
    runtime: deno ? `Deno ${deno.version.deno}` : `Node ${process.version}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}` || (globalThis as { Deno?: { mainModule: string } }).Deno?.mainModule === import.meta.url) {
  for (const relaxedSimd of [true, false]) console.log(`RESULT ${JSON.stringify({ kind: "gemm768", ...measureGemm768(relaxedSimd) })}`);
}
