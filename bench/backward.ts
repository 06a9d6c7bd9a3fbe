/**
 * The backward pass against its forward on the GPT-2-small-shaped random model (bench/random-gpt2.ts),
 * through the public API, in one process: the forward is `run` with logits at the last position only
 * (what a gradient run unembeds), the gradient run is `runWithGradients` with a probability-mass-difference
 * metric over 100 tokens at the last position (the greater-than PD's shape) keeping no gradients.
 *
 *   deno run -A bench/backward.ts   (npm run bench runs it under Node, compiled by bench/node-compile.ts)
 *   options: --n 490 --seq 13 --reps 2 --warmup 1
 *
 * Prints the median times, the backward/forward ratio ((gradient run − forward) / forward), the
 * GFLOP/s of the backward's GEMMs (dX = dY·Wᵀ against the packed transposed weights, timed per
 * call), the memory of those transposed weights (prepared on the first backward), and the peak RSS
 * after the forwards and after the gradient runs.
 *
 * Alone on the quiet machine (59ba9cb, N = 490 × 13): forward 11.29 s, forward + backward 26.10 s,
 * 1.31× wall / 1.21× CPU seconds, backward GEMMs 106 GFLOP/s, peak RSS 4.68 GB (forwards 1.04 GB).
 * Measured (2026-12-05, N = 98 × 13, load average 10–13 on 2 cores, back to back with the previous
 * commit): with the backward's non-GEMM work on wasm kernels and workspace buffers, backward /
 * forward = 1.10× in CPU seconds (1.45× before: plain-TypeScript attention, LayerNorm and gelu
 * backward); at N = 196, 1.13× (1.40× before). Wall-clock ratios were not meaningful at that load
 * (see README's gradient section).
 */
import process from "node:process";
import { transposedWeightFloats } from "../src/gpt2/backward/transposed-weights.ts";
import { probabilityMassDifferenceMetric } from "../src/gpt2/backward/logit-metrics.ts";
import { loadGpt2FromDir } from "../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../src/hooks/hooked-gpt2.ts";
import type { MatmulBackend, PreparedWeight } from "../src/backend/backend.ts";
import { intOption } from "./int-option.ts";
import { ensureRandomGpt2, GPT2_SMALL_SHAPE as SHAPE, randomFill, RANDOM_GPT2_SEED as SEED } from "./random-gpt2.ts";

const argv = process.argv.slice(2);
const N = intOption(argv, "n", 490);
const SEQ = intOption(argv, "seq", 13);
const REPS = intOption(argv, "reps", 2);
const WARMUP = intOption(argv, "warmup", 1, 0);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const peakRss = () => process.resourceUsage().maxRSS * 1024;

const { dir } = await ensureRandomGpt2();
const gpt2 = await loadGpt2FromDir(dir);
const model = new HookedGpt2(gpt2);
const { config } = model;

// Every matmul is timed; those on weights the forward did not prepare are the backward's.
const forwardWeights = new Set<PreparedWeight>([gpt2.prepared.unembed, ...gpt2.prepared.blocks.flatMap((b) => [b.qkv, b.out, b.mlpIn, b.mlpOut])]);
const gemm = { backwardSeconds: 0, backwardFlops: 0 };
const backend = gpt2.backend as MatmulBackend & { matmul: MatmulBackend["matmul"] };
const matmul = backend.matmul.bind(backend);
backend.matmul = (a, m, w, out, bias, spare) => {
  const t0 = performance.now();
  matmul(a, m, w, out, bias, spare);
  if (!forwardWeights.has(w)) {
    gemm.backwardSeconds += (performance.now() - t0) / 1000;
    gemm.backwardFlops += 2 * m * w.inDim * w.outDim;
  }
};

const state = { s: SEED + 7 };
const u = randomFill(new Float32Array(N * SEQ + 200), state, 1);
const tokens = Array.from({ length: N }, (_, b) => Array.from({ length: SEQ }, (_, p) => Math.floor(((u[b * SEQ + p]! + 1) / 2) * (SHAPE.vocab - 1))));
const metricTokens = Array.from({ length: 100 }, (_, i) => Math.floor(((u[N * SEQ + i]! + 1) / 2) * (SHAPE.vocab - 1)));
const weights = Float64Array.from({ length: N * 100 }, (_, i) => ((i % 100) > 40 ? 1 : -1));
const metric = probabilityMassDifferenceMetric(metricTokens, weights);

console.log(
  `GPT-2-small shape (${config.nLayers} layers, d_model ${config.dModel}), random weights; backend "${gpt2.backend.name}"; ` +
    `N = ${N} prompts × ${SEQ} tokens; ${WARMUP} warm-up, median of ${REPS}`,
);

// CPU seconds of this process beside wall-clock ones: on a shared machine the wall clock also
// counts waiting for a core (the pool's worker threads count in both).
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
const forwardTimes: number[] = [];
const forwardCpu: number[] = [];
for (let i = 0; i < WARMUP + REPS; i++) {
  const t0 = performance.now(), c0 = cpuSeconds();
  model.run(tokens, { logitPositions: [SEQ - 1] });
  if (i >= WARMUP) {
    forwardTimes.push((performance.now() - t0) / 1000);
    forwardCpu.push(cpuSeconds() - c0);
  }
}
const forwardRss = peakRss();

const t0 = performance.now();
model.runWithGradients(tokens.slice(0, 1), { metric: probabilityMassDifferenceMetric(metricTokens, weights.subarray(0, 100)) });
const prepareSeconds = (performance.now() - t0) / 1000;
const transposedBytes = transposedWeightFloats(gpt2) * 4;

const gradientTimes: number[] = [];
const gradientCpu: number[] = [];
const backwardGemm: number[] = [];
for (let i = 0; i < WARMUP + REPS; i++) {
  gemm.backwardSeconds = 0;
  gemm.backwardFlops = 0;
  const start = performance.now(), c0 = cpuSeconds();
  model.runWithGradients(tokens, { metric });
  if (i >= WARMUP) {
    gradientTimes.push((performance.now() - start) / 1000);
    gradientCpu.push(cpuSeconds() - c0);
    backwardGemm.push(gemm.backwardFlops / gemm.backwardSeconds / 1e9);
  }
}
const gradientRss = peakRss();

const forward = median(forwardTimes);
const gradient = median(gradientTimes);
console.log(`forward (logits at the last position)      ${forward.toFixed(3)} s   [${forwardTimes.map((s) => s.toFixed(3)).join(", ")}]`);
console.log(`forward + backward (runWithGradients)      ${gradient.toFixed(3)} s   [${gradientTimes.map((s) => s.toFixed(3)).join(", ")}]`);
console.log(`backward / forward                         ${((gradient - forward) / forward).toFixed(2)}×   (target ≤ 1.5×)`);
const [fCpu, gCpu] = [median(forwardCpu), median(gradientCpu)];
console.log(`  in CPU seconds: forward ${fCpu.toFixed(2)}, forward + backward ${gCpu.toFixed(2)}: ${((gCpu - fCpu) / fCpu).toFixed(2)}×`);
console.log(`backward GEMMs (dY·Wᵀ, packed Wᵀ)          ${median(backwardGemm).toFixed(1)} GFLOP/s, ${(gemm.backwardFlops / 1e9).toFixed(1)} GFLOP per run`);
console.log(`transposed weights (first backward)        ${mb(transposedBytes)} prepared in ${prepareSeconds.toFixed(2)} s`);
console.log(`peak RSS: after the forwards ${mb(forwardRss)}, after the gradient runs ${mb(gradientRss)}`);
gpt2.dispose();
process.exit(0);
