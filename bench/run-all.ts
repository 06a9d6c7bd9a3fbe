/**
 * `npm run bench`: gpt2-lens next to PyTorch (CPU) on a GPT-2-small-shaped model with random weights.
 *
 *   npm run bench [-- --repeat 5 --shapes 1x13,32x13,8x128 --no-setup --skip-greater-than --forward-only]
 *   (runs as: deno run -A bench/run-all.ts; Deno runs the TypeScript directly)
 *
 * 1. machine load (uptime), runtimes; dist/ is rebuilt with tsc when src/ is newer;
 * 2. the random model (.bench-cache/gpt2-small-random/, written once by bench/random-gpt2.ts);
 * 3. PyTorch: Debian's python3-torch for /usr/bin/python3; when missing, .bench/setup-torch.sh
 *    (apt-get) is tried unless --no-setup; if that fails our side is still measured;
 * 4. correctness: bench/torch_gpt2.py's logits vs ours (`gpt2-lens cache`) on test/fixtures/tiny-gpt2;
 * 5. forward, full logits at every position: ours = `gpt2-lens bench` (Node, one process per shape:
 *    load, one warm-up, median of R) with the default backend (auto: the worker pool on ≥ 2 cores)
 *    and with GPT2_LENS_BACKEND=wasm (one thread), vs bench/torch_gpt2.py (torch.no_grad) on all
 *    cores and on 1, in two setups (bench/torch-peer.ts): the environment as it is (here it pins
 *    OpenBLAS to AVX2) and at its best (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed for it alone);
 * 6. GEMM 768×768·768×2304 GFLOP/s on one thread (our WebAssembly SIMD kernel under Node, and under
 *    Deno for scale; PyTorch's), and the peak of WebAssembly SIMD itself (bench/wasm-peak.ts: a
 *    register-only multiply-add loop), which turns each shape's matmul FLOPs into a floor that no
 *    wasm forward on this machine can beat; one table per shape then puts every run side by side
 *    (bench/forward-table.ts), and the summary ends with the README's rows as Markdown;
 * 7. peak RSS of our loading + running process vs the float32 weight bytes;
 * 8. bench/greater-than.ts --n 490 (pipeline stage times) under Node (compiled by bench/node-compile.ts);
 * 8b. bench/backward.ts (under Node): forward vs forward + backward (runWithGradients) at N = 490,
 *    the backward's GEMM GFLOP/s, the transposed weights' memory and peak RSS;
 * 8c. bench/eap.ts (under Node): all-edge EAP and EAP-IG (5 steps) on the greater-than prompts at
 *    N = 490 beside the exact path-patching sweeps, with peak RSS;
 * 9. bench/load-dispose.ts (under Node): RSS over 50 load / run / dispose cycles of the bundled model.
 * --forward-only stops after 5 and 6b (the peak the floor needs).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { newestSourceMtime } from "../scripts/newest-source-mtime.ts";
import { parseSafetensors } from "../src/io/safetensors.ts";
import { lastLine, results, ROOT, run } from "./child-run.ts";
import { backendThreads, forwardMarkdown, forwardTables, ms, type OursTimes, ratio } from "./forward-table.ts";
import { type Gemm768, measureGemm768 } from "./gemm-768.ts";
import { compileForNode } from "./node-compile.ts";
import { ensureRandomGpt2 } from "./random-gpt2.ts";
import { kernelLabel, type PeerForward, type PeerGemm, peerSetups, PYTHON, runPeerForward, runPeerGemm, TORCH_SCRIPT } from "./torch-peer.ts";
import type { WasmPeak } from "./wasm-peak.ts";

const CLI = join(ROOT, "dist/cli/main.js");
const TINY = join(ROOT, "test/fixtures/tiny-gpt2");
const SETUP_SCRIPT = join(ROOT, ".bench/setup-torch.sh");
const CHECK_TOLERANCE = 1e-4;

// ---- options ----

const argv = process.argv.slice(2);
function option(name: string): string | undefined {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
const repeatRaw = option("repeat") ?? "5";
if (!/^\d+$/.test(repeatRaw) || Number(repeatRaw) < 1) throw new Error(`--repeat must be a positive integer, got ${repeatRaw}`);
const REPEAT = Number(repeatRaw);
const SHAPES = (option("shapes") ?? "1x13,32x13,8x128").split(",").map((s) => {
  const [batch, seq] = s.split(/[x×]/).map(Number);
  if (!(Number.isInteger(batch) && Number.isInteger(seq) && batch >= 1 && seq >= 1 && seq <= 1024)) throw new Error(`bad shape "${s}" (want BATCHxSEQ)`);
  return { batch, seq, label: `${batch}×${seq}` };
});
const NO_SETUP = argv.includes("--no-setup");
const FORWARD_ONLY = argv.includes("--forward-only");
const SKIP_GREATER_THAN = argv.includes("--skip-greater-than");

// ---- helpers ----

const log = (line = "") => console.log(line);
const section = (title: string) => log(`\n== ${title}`);
const indent = (text: string) => text.trimEnd().split("\n").filter(Boolean).map((l) => `   ${l}`).join("\n");

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

function uptime(): string {
  const r = run("uptime", []);
  if (r.status === 0) return r.stdout.trim();
  return `load average: ${loadavg().map((l) => l.toFixed(2)).join(", ")}`;
}

// ---- 1. machine, dist ----

function ensureDist(): void {
  const fresh = () => existsSync(CLI) && statSync(CLI).mtimeMs >= newestSourceMtime(join(ROOT, "src"));
  if (fresh()) return;
  log("dist/ is older than src/: building with tsc -p tsconfig.json");
  const r = run("node", [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"]);
  if (r.status !== 0) {
    if (!existsSync(CLI)) throw new Error(`tsc failed and there is no dist/cli/main.js:\n${r.stdout}${r.stderr}`);
    log(`tsc reported errors (emitted anyway; using dist/):\n${indent(r.stdout.split("\n").slice(0, 5).join("\n"))}`);
  }
}

const denoVersion = (globalThis as { Deno?: { version: { deno: string; v8: string } } }).Deno?.version;
log("gpt2-lens benchmark: ours (TypeScript + WebAssembly SIMD) vs PyTorch on the CPU");
log(`started ${new Date().toISOString()}`);
log(`machine: ${cpus().length} CPU(s) ${cpus()[0]?.model ?? ""}, ${mb(totalmem())} RAM`);
log(`uptime before: ${uptime()}`);
const nodeVersion = run("node", ["--version"]).stdout.trim();
log(`runtimes: Node ${nodeVersion} (our forward, via dist/cli/main.js); ${denoVersion ? `Deno ${denoVersion.deno}, V8 ${denoVersion.v8}` : `Node ${process.version}`} (this script, GEMM)`);
ensureDist();

// ---- 2. model ----

const { dir: MODEL, written } = await ensureRandomGpt2();
if (written) log(`wrote random GPT-2-small-shaped weights (${mb(written.bytes)}) to ${MODEL} in ${written.seconds.toFixed(1)} s`);
const modelBytes = statSync(join(MODEL, "model.safetensors")).size;

// ---- 3. PyTorch ----

interface TorchStatus {
  ok: boolean;
  version?: string;
  note: string;
}

function probeTorch(): TorchStatus {
  const r = run(PYTHON, ["-c", "import numpy, torch; print(torch.__version__)"]);
  if (r.status === 0) return { ok: true, version: r.stdout.trim(), note: `PyTorch ${r.stdout.trim()} (${PYTHON})` };
  const why = r.status === null ? `${PYTHON} not found` : (r.stderr.trim().split("\n").at(-1) ?? "import failed");
  return { ok: false, note: why };
}

function ensureTorch(): TorchStatus {
  const first = probeTorch();
  if (first.ok) return first;
  if (NO_SETUP) return { ok: false, note: `${first.note}; --no-setup given, not installing` };
  log(`PyTorch missing (${first.note}); running .bench/setup-torch.sh (apt-get install python3-torch), log in .bench-cache/setup-torch.log`);
  const r = run("bash", [SETUP_SCRIPT], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  writeFileSync(join(ROOT, ".bench-cache/setup-torch.log"), `${r.stdout}\n${r.stderr}`);
  const second = probeTorch();
  if (second.ok) return second;
  const tail = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-3).join(" | ");
  return { ok: false, note: `setup-torch.sh exited ${r.status}: ${tail}; ${second.note}` };
}

section("PyTorch");
const torch = ensureTorch();
if (torch.ok) log(torch.note);
else log(`COULD NOT INSTALL / IMPORT PYTORCH: ${torch.note}\n   Only our side is measured below.`);

// ---- 4. correctness on the tiny fixture ----

let checkLine = "skipped (no PyTorch)";
if (torch.ok) {
  section(`logits check: bench/torch_gpt2.py vs ours on test/fixtures/tiny-gpt2 (tolerance ${CHECK_TOLERANCE})`);
  const golden = join(TINY, "golden.safetensors");
  const prompts = JSON.parse(parseSafetensors(new Uint8Array(readFileSync(golden))).metadata.clean ?? "[]") as string[];
  const work = mkdtempSync(join(tmpdir(), "gpt2-lens-bench-"));
  try {
    const expect = join(work, "ours.safetensors");
    const ours = run("node", [CLI, "cache", "--model", TINY, ...prompts.flatMap((p) => ["--prompt", p]), "--names", "hook_embed", "--out", expect]);
    if (ours.status !== 0) throw new Error(`gpt2-lens cache failed: ${ours.stderr}`);
    const py = run(PYTHON, [TORCH_SCRIPT, "check", "--model", TINY, "--expect", expect, "--golden", golden]);
    const check = results(py.stdout).find((r) => r.kind === "check");
    if (py.status !== 0 || !check) {
      checkLine = `FAILED to run: ${py.stderr.trim().split("\n").at(-1)}`;
    } else {
      const diff = check.max_abs_diff as number;
      const hf = check.max_abs_diff_hf_golden as number | undefined;
      checkLine =
        `${diff <= CHECK_TOLERANCE ? "OK" : "MISMATCH"}: ${check.batch}×${check.seq} tokens, max |PyTorch − ours| = ${diff.toExponential(2)}` +
        ` (logits up to ${(check.max_abs_logit as number).toFixed(2)})` +
        (hf === undefined ? "" : `; max |PyTorch − HF transformers golden| = ${hf.toExponential(2)}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  log(checkLine);
}

// ---- 5. forward ----

interface OursForward {
  medianMs?: number;
  runs: number[];
  peakRss?: number;
  params?: number;
  backend?: string;
  error?: string;
}

/** Our two configurations: the default backend, and single-threaded SIMD for a per-thread comparison. */
const OURS = [
  { key: "auto", env: { GPT2_LENS_BACKEND: "auto" } },
  { key: "wasm", env: { GPT2_LENS_BACKEND: "wasm" } },
  { key: "auto-no-fma", env: { GPT2_LENS_BACKEND: "auto", GPT2_LENS_FMA: "0" } },
] as const;

section(`forward, full logits at every position: 1 warm-up, median of ${REPEAT}`);
const ours = new Map<string, Map<string, OursForward>>();
for (const config of OURS) {
  const byShape = new Map<string, OursForward>();
  for (const shape of SHAPES) {
    const args = [CLI, "bench", "--model", MODEL, "--batch", String(shape.batch), "--seq", String(shape.seq), "--repeat", String(REPEAT)];
    const r = run("node", args, { env: { ...process.env, ...config.env } });
    const out: OursForward = { runs: [] };
    if (r.status !== 0) out.error = (r.stderr.trim().split("\n")[0] ?? `exit ${r.status}`).slice(0, 200);
    out.medianMs = Number(/^forward_ms_median=([\d.]+)$/m.exec(r.stdout)?.[1] ?? Number.NaN);
    if (!Number.isFinite(out.medianMs)) out.medianMs = undefined;
    out.runs = [...r.stdout.matchAll(/^run \d+: ([\d.]+) ms$/gm)].map((m) => Number(m[1]));
    out.peakRss = Number(/^peak_rss_bytes=(\d+)/m.exec(r.stdout)?.[1] ?? Number.NaN);
    out.params = Number(/^parameters (\d+)/m.exec(r.stdout)?.[1] ?? Number.NaN);
    out.backend = /^backend (\S+);/m.exec(r.stdout)?.[1];
    byShape.set(shape.label, out);
    const what = out.error ?? `${out.runs.map((t) => t.toFixed(0)).join(", ")} ms → median ${ms(out.medianMs)} ms`;
    log(`ours ${out.backend ?? config.key} ${shape.label}: ${what} (process ${r.seconds.toFixed(1)} s incl. load)`);
  }
  ours.set(config.key, byShape);
}
const backendOf = (key: string) => [...(ours.get(key)?.values() ?? [])].find((o) => o.backend)?.backend ?? key;
const oursTimes = (key: string): OursTimes => {
  const backend = backendOf(key);
  return { backend, threads: backendThreads(backend), byShape: new Map(SHAPES.map((s) => [s.label, ours.get(key)?.get(s.label)?.medianMs])) };
};
const oursPool = oursTimes("auto");

const setups = peerSetups(process.env);
const peers: PeerForward[] = [];
if (torch.ok) {
  for (const setup of setups) log(`${setup.name}: OPENBLAS overrides ${setup.overrides}`);
  for (const threads of new Set([oursPool.threads, 1])) {
    for (const setup of setups) {
      const same = setup.sameAsEnvironment ? peers.find((p) => p.threads === threads && p.setup.key === "environment") : undefined;
      const peer = same ? { ...same, setup } : runPeerForward(setup, threads, MODEL, SHAPES, REPEAT);
      peers.push(peer);
      if (peer.error) log(`${setup.name}, ${threads} thread(s), failed: ${peer.error}`);
      if (same) continue;
      const k = peer.kernel;
      const kernel = `${kernelLabel(k)}, ATen ${k?.aten ?? "?"}, threads torch ${k?.torchThreads ?? "?"} / OpenBLAS ${k?.blasThreads ?? "?"}, overrides seen ${k?.overridesSeen ?? "?"}`;
      for (const [label, t] of peer.byShape) {
        log(`${setup.name}, ${threads} thr, ${label}: ${t.samples.map((x) => x.toFixed(0)).join(", ")} ms → median ${ms(t.medianMs)} ms (${kernel})`);
      }
    }
  }
  for (const setup of setups.filter((s) => !s.sameAsEnvironment)) {
    const blas = peers.find((p) => p.setup === setup && p.kernel?.blas)?.kernel?.blas;
    if (blas) log(`${setup.name}, BLAS: ${blas}`);
  }
}

// ---- 6. GEMM ----

let oursGflops: Gemm768 | undefined;
let oursPlainGflops: Gemm768 | undefined;
let oursDenoGflops: Gemm768 | undefined;
const torchGemms: PeerGemm[] = [];
if (!FORWARD_ONLY) {
  section("GEMM 768×768 · 768×2304 (+bias), one thread");
  // Under Node, where our forward runs (Deno's V8 bounds-checks every wasm access; shown for scale).
  // Node 20 validates relaxed SIMD only with its flag (our loader sets it; this bench script uses the
  // kernel directly), so it is given on the command line.
  const r = run("node", ["--experimental-wasm-relaxed-simd", compileForNode("bench/gemm-768.ts")]);
  const byNode = results(r.stdout).filter((x) => x.kind === "gemm768" && x.median !== undefined) as unknown as Gemm768[];
  if (r.status !== 0 || byNode.length === 0) log(`ours under Node: failed (${lastLine(r)})`);
  oursGflops = byNode[0];
  oursPlainGflops = byNode.find((g) => !g.fma);
  const inDeno = [measureGemm768(true), measureGemm768(false)];
  oursDenoGflops = inDeno.find((g) => g !== null) ?? undefined;
  for (const g of [...byNode, ...inDeno]) {
    if (!g) continue;
    log(
      `ours, ${g.runtime} (wasm SIMD ${g.tile} tile${g.fma ? ", FMA" : ", no FMA"}, ${g.calls} calls): ${g.median.toFixed(1)} GFLOP/s median, ` +
        `${g.best.toFixed(1)} best, ${g.perCpu.toFixed(1)} per CPU-second (${g.medianMs.toFixed(1)} ms)`,
    );
  }
  for (const setup of torch.ok ? setups.filter((s) => !s.sameAsEnvironment) : []) {
    const g = runPeerGemm(setup, 768, 768, 2304);
    torchGemms.push(g);
    const what = g.gflops === undefined ? `failed: ${g.error}` : `${g.gflops.toFixed(1)} GFLOP/s median (${g.medianMs!.toFixed(1)} ms)`;
    log(`${setup.name}, addmm, 1 thread, ${kernelLabel(g.kernel)}: ${what}`);
  }
}

// ---- 6b. the ceiling of any WebAssembly GEMM ----

section("WebAssembly SIMD peak: register-only f32x4 multiply-adds, one thread (no GEMM can beat it)");
let wasmPeak: WasmPeak | undefined;
{
  const r = run("node", ["--experimental-wasm-relaxed-simd", compileForNode("bench/wasm-peak.ts")]);
  const peaks = results(r.stdout).filter((x) => x.kind === "wasmPeak") as unknown as WasmPeak[];
  if (r.status !== 0 || peaks.length === 0) log(`failed (${lastLine(r)})`);
  for (const p of peaks) log(`${p.runtime}, ${p.fused ? "fused (relaxed_madd)" : "mul + add"}: ${p.median.toFixed(1)} GFLOP/s median, ${p.best.toFixed(1)} best`);
  wasmPeak = peaks.find((p) => p.fused) ?? peaks[0];
}

// ---- 8. greater-than ----

if (!FORWARD_ONLY) section("greater-than pipeline, N = 490");
const greaterThan = join(ROOT, "bench/greater-than.ts");
let greaterThanLine: string;
if (FORWARD_ONLY || SKIP_GREATER_THAN) {
  greaterThanLine = FORWARD_ONLY ? "skipped (--forward-only)" : "skipped (--skip-greater-than)";
} else if (!existsSync(greaterThan)) {
  greaterThanLine = "skipped: bench/greater-than.ts does not exist (yet)";
} else {
  // Under Node (compiled with tsc), like our forward: Deno's wasm memory accesses are bounds-checked.
  const r = run("node", [compileForNode("bench/greater-than.ts"), "--n", "490"]);
  log(indent(r.stdout));
  if (r.status !== 0) log(indent(r.stderr.split("\n").slice(-5).join("\n")));
  greaterThanLine = r.status === 0 ? `ran in ${r.seconds.toFixed(1)} s (stage times above)` : `bench/greater-than.ts exited ${r.status}`;
}
if (!FORWARD_ONLY) log(greaterThanLine);

// ---- 8b. backward ----

section("backward vs forward (runWithGradients, PD-like metric at the last position), N = 490 × 13");
let backwardLine: string;
{
  const r = run("node", ["--experimental-wasm-relaxed-simd", compileForNode("bench/backward.ts"), "--n", "490", "--seq", "13"]);
  log(indent(r.stdout));
  if (r.status !== 0) log(indent(r.stderr.split("\n").slice(-5).join("\n")));
  backwardLine = r.stdout.split("\n").find((l) => l.startsWith("backward / forward"))?.replace(/\s+/g, " ") ?? `bench/backward.ts exited ${r.status}`;
}
if (torch.ok) {
  const env = { ...process.env, OMP_NUM_THREADS: "2", OPENBLAS_NUM_THREADS: "2", MKL_NUM_THREADS: "2", OMP_WAIT_POLICY: "PASSIVE" };
  const r = run(PYTHON, [TORCH_SCRIPT, "backward", "--model", MODEL, "--n", "490", "--seq", "13", "--threads", "2"], { env });
  const t = results(r.stdout).find((x) => x.kind === "backward") as { forward_ms: number; forward_backward_ms: number } | undefined;
  const torchLine = t
    ? `PyTorch (autograd, 2 threads): forward ${(t.forward_ms / 1000).toFixed(2)} s, forward + backward ${(t.forward_backward_ms / 1000).toFixed(2)} s: ` +
      `backward / forward ${((t.forward_backward_ms - t.forward_ms) / t.forward_ms).toFixed(2)}×`
    : `PyTorch backward failed (${r.stderr.trim().split("\n").at(-1) ?? r.status})`;
  log(torchLine);
  backwardLine += `; ${torchLine}`;
}
log(backwardLine);

// ---- 8c. EAP / EAP-IG ----

section("EAP and EAP-IG (5 steps), every edge, greater-than N = 490, beside exact path patching");
let eapLine: string;
{
  const r = run("node", ["--experimental-wasm-relaxed-simd", compileForNode("bench/eap.ts"), "--n", "490", "--steps", "5"]);
  log(indent(r.stdout));
  if (r.status !== 0) log(indent(r.stderr.split("\n").slice(-5).join("\n")));
  const line = (prefix: string) => r.stdout.split("\n").find((l) => l.startsWith(prefix))?.replace(/\s+/g, " ");
  eapLine = r.status === 0 ? [line("EAP, every edge"), line("EAP-IG,")].filter(Boolean).join("; ") : `bench/eap.ts exited ${r.status}`;
}
log(eapLine);

// ---- 9. load / dispose ----

let loadDisposeLine = "skipped (--forward-only)";
if (!FORWARD_ONLY) {
  section("load / run / dispose of the bundled model, 50 cycles");
  const r = run("node", [compileForNode("bench/load-dispose.ts"), "--cycles", "50"], {
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: "131072" },
  });
  log(indent(r.stdout));
  if (r.status === null) log(indent(r.stderr.split("\n").slice(-5).join("\n")));
  loadDisposeLine = r.stdout.trim().split("\n").filter((l) => l.startsWith("backend ")).at(-1) ?? `bench/load-dispose.ts failed (${r.status})`;
}

// ---- summary ----

const all = [...ours.values()].flatMap((m) => [...m.values()]);
const params = all.find((o) => o.params !== undefined && Number.isFinite(o.params))?.params;
const weightBytes = params ? params * 4 : modelBytes;
const torchName = torch.ok ? `PyTorch ${torch.version}` : "PyTorch";
const report = { shapes: SHAPES, ours: { pool: oursPool, oneThread: oursTimes("wasm"), noFma: oursTimes("auto-no-fma") }, peers, peak: wasmPeak };

section("summary");
log(`machine: ${cpus().length} CPU(s); uptime after: ${uptime()}`);
log(`ours: Node ${nodeVersion}, default backend ${oursPool.backend}, one-thread backend ${report.ours.oneThread.backend}; ${torchName}: CPU, torch.no_grad(), OMP_WAIT_POLICY=PASSIVE`);
for (const setup of torch.ok ? setups : []) {
  const kernels = [...new Set(peers.filter((p) => p.setup === setup).map((p) => kernelLabel(p.kernel)))].join(", ");
  log(`${setup.name}: OPENBLAS overrides ${setup.overrides}; ${kernels}`);
}
if (!torch.ok) log(`PyTorch: NOT AVAILABLE (${torch.note}); only our side was measured`);
log(`PyTorch vs ours logits (tiny-gpt2): ${checkLine}`);
log(`load/dispose: ${loadDisposeLine}`);
log(`backward: ${backwardLine}`);
log(`EAP: ${eapLine}`);
log("");
for (const line of forwardTables(report)) log(line);
log("");
log("README rows (Markdown):");
for (const line of forwardMarkdown(report)) log(line);
if (!FORWARD_ONLY) {
  const f1 = (gflops: number | undefined) => gflops?.toFixed(1) ?? "—";
  const gemmOf = (setup: (typeof setups)[number]) => torchGemms.find((g) => g.setup.key === (setup.sameAsEnvironment ? "environment" : setup.key))?.gflops;
  const cells = [
    "GEMM 768×768·768×2304, one thread, GFLOP/s (higher is faster; ratios: ours ÷ the column)",
    `${f1(oursGflops?.median)} (Deno: ${f1(oursDenoGflops?.median)})`,
    ...(torch.ok ? setups : []).flatMap((setup) => [f1(gemmOf(setup)), ratio(oursGflops?.median, gemmOf(setup))]),
    `${f1(wasmPeak?.median)} (peak)`,
    ratio(oursGflops?.median, wasmPeak?.median),
    f1(oursPlainGflops?.median),
  ];
  log(`| ${cells.join(" | ")} |`);
}
log("");
if (!FORWARD_ONLY) {
  const oursGemm = oursGflops
    ? `${oursGflops.median.toFixed(1)} (median, ${oursGflops.runtime}, ${oursGflops.tile}${oursGflops.fma ? " FMA" : ""}; ${oursGflops.perCpu.toFixed(1)} per CPU-s` +
      `${oursPlainGflops && oursPlainGflops !== oursGflops ? `; without FMA ${oursPlainGflops.median.toFixed(1)}` : ""})`
    : "—";
  const peerGemm = torchGemms.map((g) => `${g.setup.name} (${kernelLabel(g.kernel)}) ${g.gflops?.toFixed(1) ?? "—"}, ours/PyTorch ${ratio(oursGflops?.median, g.gflops)}`);
  log(`GEMM 768×768·768×2304, GFLOP/s per thread (higher is faster): ours ${oursGemm}; ${peerGemm.join("; ") || `${torchName} —`}`);
}
/**
 * The issue's bound: 1.3× the float32 weights plus activations. Activations of a forward with full
 * logits, GPT-2-small shape: the logits plus one block's intermediates (residual, q/k/v, z, scores
 * and pattern, MLP hidden in and out), which a forward holds at once.
 */
function rssBound(shape: { batch: number; seq: number }): number {
  const [d, dMlp, heads, vocab] = [768, 3072, 12, 50257];
  const tokens = shape.batch * shape.seq;
  const block = tokens * (6 * d + 2 * dMlp) + 2 * shape.batch * heads * shape.seq * shape.seq;
  return 1.3 * weightBytes + 4 * (tokens * vocab + block);
}
for (const config of OURS) {
  const rss = SHAPES.map((s) => ({ shape: s, rss: ours.get(config.key)?.get(s.label)?.peakRss })).filter(
    (x): x is { shape: (typeof SHAPES)[number]; rss: number } => x.rss !== undefined && Number.isFinite(x.rss),
  );
  if (rss.length === 0) continue;
  const max = Math.max(...rss.map((x) => x.rss));
  log(
    `peak RSS, load + run, ours ${backendOf(config.key)} (${rss.map((x) => `${x.shape.label} ${mb(x.rss)}`).join(", ")}): ` +
      `max ${mb(max)} vs float32 weights ${mb(weightBytes)} = ${(max / weightBytes).toFixed(2)}×`,
  );
  log(
    `   bound 1.3× weights + activations (logits + one block): ` +
      rss.map((x) => `${x.shape.label} ${mb(rssBound(x.shape))} (${x.rss <= rssBound(x.shape) ? "within" : `over by ${mb(x.rss - rssBound(x.shape))}`})`).join(", "),
  );
}
for (const peer of peers.filter((p) => p.peakRss && p.threads === oursPool.threads && !p.setup.sameAsEnvironment)) {
  log(`peak RSS, ${peer.setup.name} (load + all shapes, ${peer.threads} threads): ${mb(peer.peakRss!)} = ${(peer.peakRss! / weightBytes).toFixed(2)}× the float32 weights`);
}
log(`greater-than N=490: ${greaterThanLine}`);
