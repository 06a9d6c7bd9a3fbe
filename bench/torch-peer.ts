/**
 * The PyTorch peer of `npm run bench` (bench/torch_gpt2.py on Debian's python3-torch + OpenBLAS), run
 * in two setups:
 * - "environment": the environment as it is. This machine's sets OPENBLAS_CORETYPE=Haswell and
 *   OPENBLAS_L2_SIZE (for old OpenBLAS builds), which hold OpenBLAS to its AVX2 kernels;
 * - "best": the same with those two variables removed from the child's environment alone, so
 *   OpenBLAS picks its kernels for this CPU (e.g. AVX-512 "Cooperlake").
 * Each run reports the OpenBLAS core it picked and its thread counts. Our own runs and the tests keep
 * the environment untouched.
 */
import { join } from "node:path";
import { lastLine, results, ROOT, run } from "./child-run.ts";

export const PYTHON = "/usr/bin/python3";
export const TORCH_SCRIPT = join(ROOT, "bench/torch_gpt2.py");

/** Environment variables that pin OpenBLAS's choice of kernels. */
export const OPENBLAS_OVERRIDES = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"] as const;

export type Env = Record<string, string | undefined>;

export interface PeerSetup {
  readonly key: "environment" | "best";
  /** "PyTorch as the environment has it" / "PyTorch at its best". */
  readonly name: string;
  readonly env: Env;
  /** Variables the child must not see. */
  readonly unset: readonly string[];
  /** What this setup does to the OpenBLAS overrides, e.g. "OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=… kept". */
  readonly overrides: string;
  /** True when the environment sets neither override, so "best" would repeat "environment". */
  readonly sameAsEnvironment: boolean;
}

/** The two setups, from the environment this script was started in. */
export function peerSetups(env: Env): readonly PeerSetup[] {
  const present = OPENBLAS_OVERRIDES.filter((name) => env[name] !== undefined);
  const kept = present.map((name) => `${name}=${env[name]}`).join(" ");
  return [
    { key: "environment", name: "PyTorch as the environment has it", env, unset: [], overrides: present.length ? `${kept} kept` : "none set", sameAsEnvironment: false },
    { key: "best", name: "PyTorch at its best", env, unset: present, overrides: present.length ? `${present.join(", ")} removed` : "none to remove", sameAsEnvironment: present.length === 0 },
  ];
}

/**
 * Pins all thread pools to `threads`. OMP_WAIT_POLICY=PASSIVE: spinning OpenMP threads otherwise
 * starve the BLAS threads on a busy 2-core machine.
 */
export function withThreads(env: Env, threads: number): Env {
  const n = String(threads);
  return { ...env, OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n, OMP_WAIT_POLICY: "PASSIVE" };
}

/**
 * Runs bench/torch_gpt2.py in `setup` on `threads` threads. The variables to drop are removed by
 * /usr/bin/env -u: Deno's child_process adds a child's `env` to its own environment rather than
 * replacing it, so leaving them out of `env` would not remove them.
 */
function runTorch(setup: PeerSetup, threads: number, args: string[]) {
  const env = withThreads(setup.env, threads);
  if (setup.unset.length === 0) return run(PYTHON, [TORCH_SCRIPT, ...args], { env });
  return run("/usr/bin/env", [...setup.unset.flatMap((name) => ["-u", name]), PYTHON, TORCH_SCRIPT, ...args], { env });
}

/** What a PyTorch process computed with, as bench/torch_gpt2.py reports it. */
export interface PeerKernel {
  /** OpenBLAS's kernel set (openblas_get_corename), e.g. "Haswell" or "Cooperlake". */
  readonly core?: string;
  /** The full BLAS description (openblas_get_config, or "not OpenBLAS (…)"). */
  readonly blas?: string;
  readonly blasThreads?: number;
  readonly torchThreads?: number;
  /** ATen's own vector kernels (LayerNorm, softmax, gelu), e.g. "AVX2". */
  readonly aten?: string;
  /** The OpenBLAS overrides the child saw, e.g. "OPENBLAS_CORETYPE=Haswell", or "none". */
  readonly overridesSeen?: string;
}

function kernelOf(res: Record<string, unknown>): PeerKernel {
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  const seen = Object.entries((res.blas_env ?? {}) as Record<string, string>).map(([name, value]) => `${name}=${value}`);
  return {
    core: str(res.blas_core), blas: str(res.blas), blasThreads: num(res.blas_threads), torchThreads: num(res.threads), aten: str(res.aten_capability),
    overridesSeen: seen.join(" ") || "none",
  };
}

/** The widest vector unit of OpenBLAS x86 cores we expect, for the reader; unknown names print bare. */
const CORE_ISA: Record<string, string> = {
  Haswell: "AVX2", Zen: "AVX2", SkylakeX: "AVX-512", Cooperlake: "AVX-512", SapphireRapids: "AVX-512",
  Sandybridge: "AVX", Nehalem: "SSE4.2", Prescott: "SSE3",
};

/** e.g. "OpenBLAS Cooperlake (AVX-512)", or the BLAS description when it is not OpenBLAS. */
export function kernelLabel(kernel: PeerKernel | undefined): string {
  if (!kernel?.core) return kernel?.blas ?? "?";
  const isa = CORE_ISA[kernel.core];
  return `OpenBLAS ${kernel.core}${isa ? ` (${isa})` : ""}`;
}

/** Threads as the peer ran them: PyTorch's intra-op threads, and OpenBLAS's when they differ. */
export function threadsLabel(kernel: PeerKernel | undefined, asked: number): string {
  const torch = kernel?.torchThreads ?? asked;
  return kernel?.blasThreads === undefined || kernel.blasThreads === torch ? String(torch) : `${torch} (BLAS ${kernel.blasThreads})`;
}

export interface PeerShape {
  readonly medianMs: number;
  readonly samples: readonly number[];
}

export interface PeerForward {
  readonly setup: PeerSetup;
  readonly threads: number;
  readonly kernel?: PeerKernel;
  /** By shape label ("32×13"). */
  readonly byShape: ReadonlyMap<string, PeerShape>;
  readonly peakRss?: number;
  readonly error?: string;
}

/** One bench/torch_gpt2.py process: loads the model, then one warm-up and the median of `repeat` per shape. */
export function runPeerForward(
  setup: PeerSetup,
  threads: number,
  model: string,
  shapes: readonly { batch: number; seq: number }[],
  repeat: number,
): PeerForward {
  const shapeArg = shapes.map((s) => `${s.batch}x${s.seq}`).join(",");
  const r = runTorch(setup, threads, ["time", "--model", model, "--shapes", shapeArg, "--repeat", String(repeat), "--threads", String(threads)]);
  const byShape = new Map<string, PeerShape>();
  let kernel: PeerKernel | undefined;
  let peakRss: number | undefined;
  for (const res of results(r.stdout)) {
    if (res.kind === "forward") byShape.set(`${res.batch}×${res.seq}`, { medianMs: res.median_ms as number, samples: res.samples_ms as number[] });
    if (res.kind === "process") {
      kernel = kernelOf(res);
      peakRss = res.peak_rss_bytes as number;
    }
  }
  return { setup, threads, kernel, byShape, peakRss, error: r.status === 0 ? undefined : lastLine(r) };
}

export interface PeerGemm {
  readonly setup: PeerSetup;
  readonly gflops?: number;
  readonly medianMs?: number;
  readonly kernel?: PeerKernel;
  readonly error?: string;
}

/** PyTorch's addmm at m×k·k×n (+bias) on one thread. */
export function runPeerGemm(setup: PeerSetup, m: number, k: number, n: number): PeerGemm {
  const r = runTorch(setup, 1, ["gemm", "--m", String(m), "--k", String(k), "--n", String(n), "--threads", "1"]);
  const res = results(r.stdout).find((x) => x.kind === "gemm");
  if (!res) return { setup, error: lastLine(r) };
  return { setup, gflops: res.gflops as number, medianMs: res.median_ms as number, kernel: kernelOf(res) };
}
