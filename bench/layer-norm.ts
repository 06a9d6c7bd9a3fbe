/**
 * Forward pass with the WebAssembly LayerNorm and residual-sum kernels vs the plain TypeScript
 * loops, on one model in one process: the backend's kernels are removed for the "off" runs and put
 * back for the "on" runs, alternating per round (which goes first alternates too), so background
 * load hits both alike. Prints per-shape medians and minima of wall and process CPU time, and the
 * load average. Then the LayerNorms alone
 * (scale + normalize + affine in place, the forward's path) and the residual sums alone, on
 * [rows, 768] in the backend's workspace.
 *
 *   npx tsc bench/layer-norm.ts --outDir .bench-cache/node --rootDir . --module nodenext \
 *     --target es2022 --types node --allowImportingTsExtensions --rewriteRelativeImportExtensions \
 *     --skipLibCheck && node .bench-cache/node/bench/layer-norm.js [--model DIR] [--rounds 7] [--shapes 8x128,32x13]
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { loadGpt2FromDir } from "../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../src/hooks/hooked-gpt2.ts";
import type { ForwardKernels } from "../src/tensor/forward-kernels.ts";
import { addInPlace } from "../src/tensor/elementwise.ts";
import { layerNormAffine, layerNormScaleNormalize } from "../src/tensor/layer-norm.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { repoRoot } from "./repo-root.ts";

function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
}

const dir = option("model") ?? join(repoRoot(), ".bench-cache/gpt2-small-random");
const rounds = Number(option("rounds") ?? 7);
const shapes = (option("shapes") ?? "8x128,32x13").split(",").map((s) => s.split("x").map(Number) as [number, number]);
const NAMES = ["layerNormScale", "layerNormNormalize", "layerNormAffine", "addInPlace"] as const;

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const gpt2 = await loadGpt2FromDir(dir);
const kernels = gpt2.backend.kernels as Record<string, unknown> | undefined;
if (kernels === undefined || NAMES.some((n) => typeof kernels[n] !== "function")) throw new Error(`backend ${gpt2.backend.name} lacks the kernels`);
const saved = Object.fromEntries(NAMES.map((n) => [n, kernels[n]])) as Partial<ForwardKernels>;
const use = (on: boolean): void => {
  for (const n of NAMES) {
    if (on) kernels[n] = saved[n];
    else delete kernels[n];
  }
};
const model = new HookedGpt2(gpt2);
console.log(`backend ${gpt2.backend.name}; Node ${process.version}; ${rounds} rounds; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);

const cpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
const summary = (v: number[]): string => `median ${median(v).toFixed(3)} s, min ${Math.min(...v).toFixed(3)} s`;
for (const [batch, seq] of shapes) {
  const tokens = Array.from({ length: batch }, (_, b) => Array.from({ length: seq }, (_, p) => (b * 7919 + p * 104729) % 50257));
  const wall: Record<"off" | "on", number[]> = { off: [], on: [] };
  const cpu: Record<"off" | "on", number[]> = { off: [], on: [] };
  for (const on of [false, true]) {
    use(on);
    model.run(tokens);
  }
  for (let r = 0; r < rounds; r++) {
    for (const on of r % 2 ? [true, false] : [false, true]) {
      use(on);
      const t0 = performance.now(), c0 = cpuSeconds();
      model.run(tokens);
      wall[on ? "on" : "off"].push((performance.now() - t0) / 1000);
      cpu[on ? "on" : "off"].push(cpuSeconds() - c0);
    }
  }
  use(true);
  const change = (v: Record<"off" | "on", number[]>): string => `${((1 - median(v.on) / median(v.off)) * 100).toFixed(1)}% less`;
  console.log(
    `${batch}×${seq} wall: JS ${summary(wall.off)}; wasm ${summary(wall.on)} (${change(wall)})\n` +
      `${batch}×${seq} CPU (all threads): JS ${summary(cpu.off)}; wasm ${summary(cpu.on)} (${change(cpu)})\n` +
      `  wall off: ${wall.off.map((t) => t.toFixed(3)).join(" ")}\n  wall on:  ${wall.on.map((t) => t.toFixed(3)).join(" ")}`,
  );
}
const workspace = gpt2.backend.workspace;
for (const [batch, seq] of shapes) {
  const rows = batch * seq, width = gpt2.config.dModel, calls = 2 * gpt2.config.nLayers + 1;
  const x = workspace?.alloc(rows * width) ?? new Float32Array(rows * width);
  const out = workspace?.alloc(rows * width) ?? new Float32Array(rows * width);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i) * 3 + (i % 7);
  const input = new Tensor(x, [batch, seq, width]);
  const weight = gpt2.weights.lnFinalWeight, bias = gpt2.weights.lnFinalBias;
  const sum = new Tensor(out, input.shape);
  const steps: [string, number, (k: ForwardKernels | undefined) => void][] = [
    ["LayerNorms", calls, (k) => layerNormAffine(layerNormScaleNormalize(input, 1e-5, out, k).normalized, weight, bias, true, k)],
    ["residual sums", calls - 1, (k) => addInPlace(sum, input, k)],
  ];
  for (const [what, count, step] of steps) {
    const times: Record<"off" | "on", number[]> = { off: [], on: [] };
    for (let r = 0; r < 4 * rounds; r++) {
      for (const on of r % 2 ? [true, false] : [false, true]) {
        const k = on ? (saved as ForwardKernels) : undefined;
        const t0 = performance.now();
        for (let c = 0; c < count; c++) step(k);
        times[on ? "on" : "off"].push((performance.now() - t0) / 1000);
      }
    }
    const off = median(times.off), on = median(times.on);
    console.log(`${what} alone, ${count} per forward, ${batch}×${seq}: JS ${(off * 1000).toFixed(1)} ms, wasm ${(on * 1000).toFixed(1)} ms (${(off / on).toFixed(1)}×)`);
  }
}
console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
