/**
 * GPT-2's gelu_new on float32 activations: the float64 Math.exp loop of `geluNew`
 * (src/tensor/activation.ts) vs the WebAssembly SIMD kernel (src/backend/wasm/wasm-gelu.ts), on
 * 38 M elements (batch 8 × 128 tokens × 3072 MLP units × 12 layers, one GPT-2-small forward).
 *
 * Run under Deno (runs TypeScript directly):
 *   npx deno run -A bench/gelu.ts [--quick] [--sweep]
 * `--quick`: 1/8 of the elements. `--sweep`: also time kernel unroll / chunk variants.
 * Timings include the wasm path's copies into and out of wasm memory.
 *
 * `--pool`: instead, gelu in place on one layer's MLP activations in the worker pool's memory (as
 * the forward pass runs it on the pool backend's workspace), for 32×13 and 490×13 tokens: the
 * copying kernel above (what the backend used before) vs the pool's, which splits the elements over
 * the pool's threads (src/backend/wasm/threads/pool-gelu.ts). Interleaved rounds, medians. Under Node:
 *   npx tsc bench/gelu.ts --outDir .bench-cache/node --rootDir . --module nodenext --target es2022 \
 *     --types node --allowImportingTsExtensions --rewriteRelativeImportExtensions --skipLibCheck \
 *     && node .bench-cache/node/bench/gelu.js --pool
 */
import { geluNew } from "../src/tensor/activation.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { NodeGemmPool } from "../src/backend/wasm/threads/node-wasm-thread-pool.ts";
import { createPoolGelu } from "../src/backend/wasm/threads/pool-gelu.ts";
import { createWasmGelu, type WasmGelu } from "../src/backend/wasm/wasm-gelu.ts";

const args: readonly string[] =
  (globalThis as unknown as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process?: { argv: string[] } }).process?.argv.slice(2) ??
  [];
const quick = args.includes("--quick");
const sweep = args.includes("--sweep");
const pool = args.includes("--pool");

const N = (8 * 128 * 3072 * 12) / (quick ? 8 : 1);

/** MLP pre-activation-like data: roughly N(0, 1.5²) via xorshift, with a few outliers. */
function preActivations(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  for (let i = 0; i < n; i++) out[i] = (next() + next() + next() + next() - 2) * 2.6;
  for (let i = 0; i < n; i += 9973) out[i] = (next() - 0.5) * 40;
  return out;
}

const data = preActivations(pool ? 0 : N, 4242);
const tensor = new Tensor(data, [data.length]);
const rate = (seconds: number): string => `${(N / seconds / 1e6).toFixed(1).padStart(7)} M elements/s`;

function timeRounds(fns: { name: string; run: () => void }[], rounds: number): Map<string, number[]> {
  const samples = new Map(fns.map((f) => [f.name, [] as number[]]));
  for (const f of fns) f.run(); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const f of fns) {
      const t0 = performance.now();
      f.run();
      samples.get(f.name)!.push((performance.now() - t0) / 1000);
    }
  }
  return samples;
}

let jsOut: Float32Array = new Float32Array(0);
const variants: [string, number, number][] = sweep
  ? [["unroll 1", 1, 1 << 18], ["unroll 2", 2, 1 << 18], ["unroll 4", 4, 1 << 18], ["unroll 8", 8, 1 << 18], ["unroll 8, 256 KiB", 8, 1 << 16], ["unroll 8, 4 MiB", 8, 1 << 20]]
  : [["default", 8, 1 << 18]];
const wasm = variants.map(([name, unroll, chunkFloats]) => ({ name, gelu: createWasmGelu({ kernel: { unroll }, chunkFloats }), out: new Float32Array(N) }));
if (pool) {
  poolBench();
} else if (wasm.some((w) => w.gelu === null)) {
  console.log("WebAssembly SIMD unavailable");
} else {
  const fns = [
    { name: "JS geluNew (Math.exp)", run: () => { jsOut = geluNew(tensor).data; } },
    ...wasm.map((w) => ({ name: `wasm SIMD (${w.name})`, run: () => (w.gelu as WasmGelu)(data, w.out) })),
  ];
  const samples = timeRounds(fns, quick ? 3 : 5);
  const jsMedian = median(samples.get(fns[0]!.name)!);
  console.log(`gelu_new over ${N} float32 elements`);
  for (const f of fns) {
    const s = samples.get(f.name)!;
    const med = median(s);
    const w = wasm.find((v) => f.name.endsWith(`(${v.name})`));
    let err = "";
    if (w !== undefined) {
      let worst = 0;
      for (let i = 0; i < N; i++) {
        const d = Math.abs(w.out[i]! - jsOut[i]!);
        if (d > 1e-30) worst = Math.max(worst, d / Math.abs(jsOut[i]!));
      }
      err = `; speed-up ${(jsMedian / med).toFixed(1)}x; max rel Δ vs JS ${worst.toExponential(2)}`;
    }
    console.log(`${f.name.padEnd(32)}: ${rate(med)} median (${(med * 1000).toFixed(1)} ms), ${rate(Math.min(...s))} best${err}`);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** gelu in place on the pool's memory: the copying kernel vs the pool's row-split one. */
function poolBench(): void {
  const gemmPool = NodeGemmPool.create();
  const copying = createWasmGelu();
  if (gemmPool === null || copying === null) {
    console.log("worker pool or WebAssembly SIMD unavailable");
    return;
  }
  gemmPool.waitUntilReady();
  const split = createPoolGelu(gemmPool, copying);
  for (const tokens of [32 * 13, 490 * 13]) {
    const n = tokens * 3072;
    const input = preActivations(n, 4242);
    const view = gemmPool.allocView(n).view;
    const fns = [
      { name: "copying kernel", run: () => copying(view, view) },
      { name: `pool ×${gemmPool.activeThreads}`, run: () => split(view, view) },
    ].map((f) => ({ name: f.name, run: () => { view.set(input); f.run(); } }));
    const samples = timeRounds(fns, quick ? 9 : 31);
    console.log(`gelu_new in place on ${tokens}×3072 floats of the pool's memory (times include a ${(n * 4 / 2 ** 20).toFixed(0)} MiB refill)`);
    for (const f of fns) {
      const s = samples.get(f.name)!;
      console.log(`  ${f.name.padEnd(16)}: ${(median(s) * 1000).toFixed(2).padStart(7)} ms median, ${(Math.min(...s) * 1000).toFixed(2).padStart(7)} ms best`);
    }
  }
  void gemmPool.close();
}
