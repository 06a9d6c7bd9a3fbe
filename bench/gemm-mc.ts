/**
 * Row-block sweep for the GEMM kernel: one thread, operands already in wasm memory (no staging),
 * the raw `gemm` export called with different row blocks `mc`, interleaved round by round (so load
 * from other processes hits every choice alike). Used to pick the rule in gemm-kernel.ts's
 * rowBlockRows; "auto" is what that rule picks.
 *
 * Run under Node 20 (compiled; see bench/node-compile.ts):
 *   npx tsc bench/gemm-mc.ts --outDir .bench-cache/node --rootDir . --module nodenext --target es2022 \
 *     --types node --allowImportingTsExtensions --rewriteRelativeImportExtensions --skipLibCheck \
 *     && node .bench-cache/node/bench/gemm-mc.js [--mc 48,96,192] [--only 50257] [--seconds 20]
 *
 * Reported per shape and row block: GFLOP/s from the median wall time and from the median process
 * CPU time of a call.
 */
import process from "node:process";
import { rowBlockRows, scratchFloats } from "../src/backend/wasm/kernels/gemm-kernel.ts";
import { WasmGemm } from "../src/backend/wasm/gemm/wasm-gemm.ts";
import { cpuSeconds, randomMatrix } from "./gemm-timing.ts";

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const mcList = (option("--mc") ?? "48,96,144,192,256,384").split(",").map(Number);
const only = option("--only");
// --shapes 416x768x8192,13x768x50257 replaces the default list.
const shapesArg = option("--shapes")?.split(",").map((s) => s.split("x").map(Number) as [number, number, number]);
const seconds = Number(option("--seconds") ?? 20);

const shapes: [number, number, number][] = shapesArg ?? [
  [416, 768, 50257],
  [490, 768, 50257],
  [13, 768, 50257],
  [100, 768, 50257],
  [416, 768, 2304],
  [768, 768, 2304],
  [416, 768, 768],
  [416, 768, 3072],
  [1024, 768, 3072],
  [416, 3072, 768],
  [1024, 3072, 768],
  [416, 1536, 768],
  [2048, 64, 2048],
  [416, 64, 768],
  [64, 64, 64],
];

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const gemm = WasmGemm.create();
if (gemm === null) {
  console.log("WebAssembly SIMD unavailable: nothing to benchmark");
} else {
  for (const [m, k, n] of shapes) {
    const label = `${m}x${k}x${n}`;
    if (only !== undefined && !label.includes(only)) continue;
    const auto = rowBlockRows(gemm.layout, k, n, m);
    const choices = [...new Set([...mcList, auto])].sort((x, y) => x - y);
    const flops = 2 * m * k * n;
    const packed = gemm.pack(randomMatrix(k * n, 2), k, n);
    const aBuf = gemm.alloc(m * k);
    aBuf.view().set(randomMatrix(m * k, 1));
    const bias = gemm.alloc(n);
    bias.view().set(randomMatrix(n, 3));
    const cBuf = gemm.alloc(m * n);
    const scratch = gemm.alloc(scratchFloats(gemm.layout, k) + Math.max(...choices) * Math.min(k, gemm.layout.kc));
    const call = (mc: number): void => gemm.exports.gemm(aBuf.ptr, packed.buffer.ptr, cBuf.ptr, bias.ptr, m, n, k, 0, scratch.ptr, mc);
    const perCall = (() => {
      const t0 = performance.now();
      call(choices[0]!);
      return (performance.now() - t0) / 1000;
    })();
    const warmup = Math.max(1, Math.min(5, Math.ceil(0.3 / perCall)));
    for (let w = 0; w < warmup; w++) for (const mc of choices) call(mc);
    const wall = choices.map((): number[] => []);
    const cpu = choices.map((): number[] => []);
    const start = performance.now();
    for (let round = 0; round < 200; round++) {
      choices.forEach((mc, i) => {
        const c0 = cpuSeconds();
        const t0 = performance.now();
        call(mc);
        wall[i]!.push((performance.now() - t0) / 1000);
        cpu[i]!.push(cpuSeconds() - c0);
      });
      if (round >= 4 && (performance.now() - start) / 1000 > seconds) break;
    }
    const cells = choices.map((mc, i) => {
      const g = (t: number): string => (flops / t / 1e9).toFixed(1);
      return `${mc === auto ? "*" : ""}${mc}: ${g(median(wall[i]!))}/${g(median(cpu[i]!))}`;
    });
    console.log(`${label.padEnd(16)} (${wall[0]!.length} rounds, * = auto) ${cells.join("  ")}`);
    for (const buf of [scratch, cBuf, bias, aBuf, packed.buffer]) gemm.free(buf);
  }
}
