/**
 * Shared by the GEMM benchmarks (bench/gemm.ts, bench/gemm-threads.ts, bench/run-all.ts): seeded
 * operands, the process CPU clock, and GFLOP/s formatting. Runs under Deno and (compiled) Node.
 */
import { randomFill } from "./random-gpt2.ts";

/** `n` floats in [-1, 1) from `seed` (xorshift32; seed 0 is taken as 1). */
export function randomMatrix(n: number, seed: number): Float32Array {
  return randomFill(new Float32Array(n), { s: seed >>> 0 || 1 }, 1);
}

/** Process CPU seconds so far, when the runtime exposes process.cpuUsage (Node; Deno's compat layer). */
const cpuUsage = (globalThis as unknown as { process?: { cpuUsage?: () => { user: number; system: number } } }).process?.cpuUsage;
export const cpuSeconds = (): number => {
  if (cpuUsage === undefined) return Number.NaN;
  const u = cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** GFLOP/s of `flops` floating-point operations in `seconds`, one decimal, padded to 5 characters. */
export const gflops = (flops: number, seconds: number): string => (flops / seconds / 1e9).toFixed(1).padStart(5);
