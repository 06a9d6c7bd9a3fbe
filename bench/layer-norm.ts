/**
 * Forward pass with the WebAssembly LayerNorm kernel vs the plain TypeScript LayerNorm, on one
 * model in one process: the backend's LayerNorm kernels are removed for the "off" runs and put back
 * for the "on" runs, alternating per round (which goes first alternates too), so background load
 * hits both alike. Prints per-shape medians and the load average.
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
import { repoRoot } from "./repo-root.ts";

function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
}

const dir = option("model") ?? join(repoRoot(), ".bench-cache/gpt2-small-random");
const rounds = Number(option("rounds") ?? 7);
const shapes = (option("shapes") ?? "8x128,32x13").split(",").map((s) => s.split("x").map(Number) as [number, number]);
const NAMES = ["layerNormScale", "layerNormNormalize", "layerNormAffine"] as const;

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const gpt2 = await loadGpt2FromDir(dir);
const kernels = gpt2.backend.kernels as Record<string, unknown> | undefined;
if (kernels === undefined || NAMES.some((n) => typeof kernels[n] !== "function")) throw new Error(`backend ${gpt2.backend.name} has no LayerNorm kernels`);
const saved = Object.fromEntries(NAMES.map((n) => [n, kernels[n]])) as Partial<ForwardKernels>;
const use = (on: boolean): void => {
  for (const n of NAMES) {
    if (on) kernels[n] = saved[n];
    else delete kernels[n];
  }
};
const model = new HookedGpt2(gpt2);
console.log(`backend ${gpt2.backend.name}; Node ${process.version}; ${rounds} rounds; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);

for (const [batch, seq] of shapes) {
  const tokens = Array.from({ length: batch }, (_, b) => Array.from({ length: seq }, (_, p) => (b * 7919 + p * 104729) % 50257));
  const times: Record<"off" | "on", number[]> = { off: [], on: [] };
  for (const on of [false, true]) {
    use(on);
    model.run(tokens);
  }
  for (let r = 0; r < rounds; r++) {
    for (const on of r % 2 ? [true, false] : [false, true]) {
      use(on);
      const t0 = performance.now();
      model.run(tokens);
      times[on ? "on" : "off"].push((performance.now() - t0) / 1000);
    }
  }
  use(true);
  const off = median(times.off), on = median(times.on);
  console.log(
    `${batch}×${seq}: JS LayerNorm ${off.toFixed(3)} s, wasm LayerNorm ${on.toFixed(3)} s ` +
      `(−${((off - on) * 1000).toFixed(0)} ms, ${((1 - on / off) * 100).toFixed(1)}%)\n` +
      `  off: ${times.off.map((t) => t.toFixed(3)).join(" ")}\n  on:  ${times.on.map((t) => t.toFixed(3)).join(" ")}`,
  );
}
console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
