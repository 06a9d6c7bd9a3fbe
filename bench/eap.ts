/**
 * All-edge EAP and EAP-IG scores on the greater-than prompts against the exact path-patching sweeps,
 * on the GPT-2-small-shaped random model (bench/random-gpt2.ts), in one process.
 *
 *   deno run -A bench/eap.ts   (npm run bench runs it under Node, compiled by bench/node-compile.ts)
 *   options: --n 490 --steps 5 --edges 200 --sweeps 1 --share-prefix 1
 *
 * Prints, with wall-clock and CPU seconds (all threads) and the peak RSS after each: EAP over every
 * edge (gradient runs over batches of prompts; the 8-token prefix the clean and corrupted prompts
 * share is run once and continued as past keys and values unless --share-prefix 0), EAP-IG with
 * --steps steps, then the clean and corrupted cached runs of the exact pipeline, the exact
 * edge-level evaluation of the top --edges circuit, and the exact path-patching sweeps the pipeline
 * runs (senders → logits, and one senders → MLP sweep, timed once, ×6 for the paper's other six
 * sweeps: an estimate; the whole pipeline is bench/greater-than.ts). EAP runs first, so the peak
 * RSS after it is its own, not the cached runs' (≈ 3.5 GB of every head's result at N = 490).
 * Measured before and after the shared prefix (2026-12-05, under load): README, "Edge attribution".
 * Alone on the quiet machine (59ba9cb, --sweeps 0): EAP 42.5 s / 69.8 CPU-s, EAP-IG 140.5 s / 221.1 CPU-s.
 */
import { loadavg } from "node:os";
import process from "node:process";
import { loadGpt2FromDir } from "../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../src/hooks/hooked-gpt2.ts";
import { edgeCircuitSize, evaluateEdgeCircuit, topEdgeCircuit } from "../src/patching/eap-circuit.ts";
import { edgeCount, edgeGraph } from "../src/patching/eap-graph.ts";
import { edgeAttribution, type EdgeAttributionMethod } from "../src/patching/eap-scores.ts";
import { collectPathActivations } from "../src/patching/path-activations.ts";
import { pathPatchingSweep, type PathPatchingContext } from "../src/patching/path-patching.ts";
import { GT_POSITIONS, makeGreaterThanDataset } from "../src/tasks/greater-than/dataset.ts";
import { probabilityDifferenceGradientMetric, probabilityDifferenceMetric, probabilityDifferenceSoftmaxMetric } from "../src/tasks/greater-than/pd-metric.ts";
import { yearTokenIds } from "../src/tasks/greater-than/years.ts";
import { intOption } from "./int-option.ts";
import { ensureRandomGpt2 } from "./random-gpt2.ts";

const argv = process.argv.slice(2);
const N = intOption(argv, "n", 490);
const STEPS = intOption(argv, "steps", 5);
const EDGES = intOption(argv, "edges", 200);
const SWEEPS = intOption(argv, "sweeps", 1, 0);
const SHARE_PREFIX = intOption(argv, "share-prefix", 1, 0) !== 0;

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const peakRss = () => process.resourceUsage().maxRSS * 1024;
const timed = <T>(label: string, target: string, f: () => T): { value: T; seconds: number } => {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const value = f();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(
    `${label.padEnd(44)} ${seconds.toFixed(1).padStart(7)} s (CPU ${cpuSeconds.toFixed(1).padStart(6)} s) ${target.padEnd(18)} peak RSS ${mb(peakRss())}`,
  );
  return { value, seconds };
};

const { dir } = await ensureRandomGpt2();
const gpt2 = await loadGpt2FromDir(dir);
const model = new HookedGpt2(gpt2);
const { config } = model;
const data = makeGreaterThanDataset({ n: N, seed: 0 });
const yearTokens = yearTokenIds();
const yy = Array.from(data.yy);
console.log(
  `GPT-2-small shape (${config.nLayers} layers × ${config.nHeads} heads, d_model ${config.dModel}), random weights; backend "${gpt2.backend.name}"; ` +
    `greater-than N = ${N} × ${data.tokens.pos} tokens; ${edgeCount(edgeGraph(config))} edges`,
);

console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}; peak RSS after loading ${mb(peakRss())}`);

const score = (method: EdgeAttributionMethod) => edgeAttribution(model, {
  clean: data.tokens, corrupted: data.corruptedTokens, method, steps: STEPS,
  metric: (start, end) => probabilityDifferenceGradientMetric(yearTokens, yy.slice(start, end)),
  ...(SHARE_PREFIX ? {} : { sharePrefix: false }),
});
const prefixNote = SHARE_PREFIX ? "" : " (no shared prefix)";
const eap = timed(`EAP, every edge${prefixNote}`, "(target ≤ 60 s)", () => score("eap"));
const ig = timed(`EAP-IG, ${STEPS} steps, every edge${prefixNote}`, "(target ≤ 180 s)", () => score("eap-ig"));
const runs = timed("clean + corrupted cached runs", "", () => {
  const clean = collectPathActivations(model, data.tokens);
  return { clean, corrupted: collectPathActivations(model, data.corruptedTokens, { reuse: { run: clean, tokens: data.tokens } }) };
});
const context: PathPatchingContext = {
  model, ...runs.value, logitPosition: GT_POSITIONS.END,
  metric: probabilityDifferenceMetric(yearTokens, yy), softmaxMetric: probabilityDifferenceSoftmaxMetric(yearTokens, yy),
};
const circuit = topEdgeCircuit(ig.value, EDGES);
timed(`exact evaluation, top ${EDGES} → ${edgeCircuitSize(circuit)} edges`, "", () => evaluateEdgeCircuit(context, circuit));
if (SWEEPS > 0) {
  const logits = timed("path patching: senders → logits", "", () => pathPatchingSweep(context, { senderPosition: GT_POSITIONS.END, receivers: "logits" }));
  const mlpSweep = timed(`path patching: senders → MLP ${config.nLayers - 1}`, "", () =>
    pathPatchingSweep(context, { senderPosition: GT_POSITIONS.END, receivers: [{ node: { kind: "mlp", layer: config.nLayers - 1, pos: GT_POSITIONS.END }, channels: ["in"] }] }),
  );
  const estimate = runs.seconds + logits.seconds + 6 * mlpSweep.seconds;
  console.log(`exact path patching, 7 sweeps (estimate: runs + logits + 6 × MLP sweep) ${estimate.toFixed(1)} s`);
  console.log(`EAP / exact sweeps: ${(eap.seconds / estimate).toFixed(2)}×; EAP-IG / exact sweeps: ${(ig.seconds / estimate).toFixed(2)}×`);
}
gpt2.dispose();
