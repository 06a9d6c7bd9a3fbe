/**
 * The ceiling of WebAssembly SIMD arithmetic on this machine: a generated loop of independent
 * f32x4 multiply-adds on registers only (no memory traffic), timed on one thread. No GEMM written in
 * wasm can run faster than this, so `npm run bench` uses it to turn a forward's matmul FLOPs into a
 * floor for any WebAssembly implementation, next to PyTorch's measured time.
 *
 * Run as a script it prints `RESULT {"kind":"wasmPeak",...}` lines (fused, when the engine has
 * relaxed SIMD, and plain mul + add). Runs under Deno and (compiled) Node; Node 20 needs
 * --experimental-wasm-relaxed-simd for the fused loop.
 */
import process from "node:process";
import { webAssembly } from "../src/backend/wasm/wasm-api.ts";
import { wasmRelaxedSimdSupported } from "../src/backend/wasm/simd-support.ts";
import { encodeModule, FunctionBuilder, ValType } from "../src/backend/wasm/assembler/wasm-writer.ts";

/** Independent accumulators: enough to cover the FMA latency on both ports of current x86 cores. */
const ACCUMULATORS = 12;

export interface WasmPeak {
  /** Median GFLOP/s (one thread). */
  readonly median: number;
  readonly best: number;
  readonly fused: boolean;
  readonly runtime: string;
}

/** peak(iterations) runs ACCUMULATORS multiply-adds per iteration and returns a lane (so nothing is dead). */
function peakLoop(fused: boolean): (iterations: number) => number {
  const f = new FunctionBuilder([ValType.i32], [ValType.f32]);
  const iterations = f.param(0);
  const scale = f.local(ValType.v128);
  const shift = f.local(ValType.v128);
  const acc = Array.from({ length: ACCUMULATORS }, () => f.local(ValType.v128));
  // acc ← acc·(1 − 2⁻²⁰) + 2⁻²⁰ stays near 1: no overflow, no subnormals.
  f.v128ConstF32x4([1 - 2 ** -20, 1 - 2 ** -20, 1 - 2 ** -20, 1 - 2 ** -20]).set(scale);
  f.v128ConstF32x4([2 ** -20, 2 ** -20, 2 ** -20, 2 ** -20]).set(shift);
  acc.forEach((a, i) => f.v128ConstF32x4([1 + i / 64, 1, 1, 1]).set(a));
  f.block(() => {
    f.get(iterations).i32Eqz().brIf(0);
    f.loop(() => {
      for (const a of acc) {
        if (fused) f.get(a).get(scale).get(shift).f32x4RelaxedMadd().set(a);
        else f.get(a).get(scale).f32x4Mul().get(shift).f32x4Add().set(a);
      }
      f.get(iterations).i32Const(1).i32Sub().tee(iterations).brIf(0);
    });
  });
  f.get(acc[0]!);
  for (const a of acc.slice(1)) f.get(a).f32x4Add();
  f.f32x4ExtractLane(0);
  const bytes = encodeModule({ functions: [f], exports: { peak: 0 } });
  const wasm = webAssembly();
  if (!wasm) throw new Error("this runtime has no WebAssembly");
  return new wasm.Instance(new wasm.Module(bytes), {}).exports.peak as (iterations: number) => number;
}

/** Times the register-only loop; null when `fused` is asked for and the engine lacks relaxed SIMD. */
export function measureWasmPeak(fused: boolean): WasmPeak | null {
  if (fused && !wasmRelaxedSimdSupported()) return null;
  const peak = peakLoop(fused);
  const iterations = 20_000_000;
  const flops = iterations * ACCUMULATORS * 4 * 2;
  let sink = 0;
  for (let i = 0; i < 2; i++) sink += peak(iterations / 10);
  const gflops: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    sink += peak(iterations);
    gflops.push(flops / ((performance.now() - t0) / 1000) / 1e9);
  }
  if (!Number.isFinite(sink)) throw new Error(`the peak loop diverged (${sink})`);
  gflops.sort((a, b) => a - b);
  const deno = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
  return {
    median: gflops[gflops.length >> 1]!,
    best: gflops[gflops.length - 1]!,
    fused,
    runtime: deno ? `Deno ${deno.version.deno}` : `Node ${process.version}`,
  };
}

/** The sizes of a GPT-2 the FLOP counts depend on (GPT-2 small by default). */
export interface FlopShape {
  readonly nLayers: number;
  readonly dModel: number;
  readonly dMlp: number;
  readonly dVocab: number;
}

const GPT2_SMALL: FlopShape = { nLayers: 12, dModel: 768, dMlp: 3072, dVocab: 50257 };

/**
 * FLOPs (2 per multiply-add) of the weight matmuls of one forward with full logits: per layer the
 * q/k/v and output projections and both MLP matrices, then the unembedding.
 */
export function forwardGemmFlops(shape: { batch: number; seq: number }, model: FlopShape = GPT2_SMALL): number {
  const d = model.dModel;
  const perTokenLayer = 2 * (3 * d * d + d * d + 2 * d * model.dMlp);
  return shape.batch * shape.seq * (model.nLayers * perTokenLayer + 2 * d * model.dVocab);
}

/** FLOPs of the attention products (scores q·kᵀ and mixing with v, over the full T×T as computed). */
export function forwardAttentionFlops(shape: { batch: number; seq: number }, model: FlopShape = GPT2_SMALL): number {
  return model.nLayers * shape.batch * 2 * 2 * shape.seq * shape.seq * model.dModel;
}

/**
 * All matmul FLOPs of a forward. LayerNorm, softmax, GELU and adds are left out, so a floor made
 * from this is below what any forward can reach.
 */
export function forwardMatmulFlops(shape: { batch: number; seq: number }, model: FlopShape = GPT2_SMALL): number {
  return forwardGemmFlops(shape, model) + forwardAttentionFlops(shape, model);
}

/**
 * The 128-bit SIMD floor: `flops` (a computation's matmul FLOPs) with every multiply-add at `peak`,
 * the register-only f32x4 loop above, on each of `threads` threads at once. Memory traffic and all
 * non-matmul work are left out, so no WebAssembly implementation can be faster on this machine.
 */
export function simdFloorSeconds(flops: number, peak: WasmPeak, threads: number): number {
  return flops / (peak.median * 1e9 * threads);
}

/** The floor's assumptions in one line, printed wherever a floor is. */
export function simdFloorAssumptions(peak: WasmPeak, threads: number): string {
  return (
    `128-bit SIMD floor = matmul FLOPs ÷ (${peak.median.toFixed(1)} GFLOP/s, the median register-only f32x4 ` +
    `${peak.fused ? "fused multiply-add" : "mul + add"} peak of one thread under ${peak.runtime}, × ${threads} thread(s)); ` +
    `LayerNorm, softmax, GELU, adds and memory traffic left out`
  );
}

if (import.meta.url === `file://${process.argv[1]}` || (globalThis as { Deno?: { mainModule: string } }).Deno?.mainModule === import.meta.url) {
  for (const fused of [true, false]) {
    const result = measureWasmPeak(fused);
    if (result) console.log(`RESULT ${JSON.stringify({ kind: "wasmPeak", ...result })}`);
  }
}
