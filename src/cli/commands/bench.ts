import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type Gpt2Config, parseHfConfig } from "../../gpt2/config.ts";
import { BUNDLED_MODEL_DIR } from "../../gpt2/node-bundled-model.ts";
import type { Gpt2Model } from "../../gpt2/model.ts";
import type { TokenBatch } from "../../gpt2/tokens.ts";
import { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import { loadWithProgress } from "../load-model.ts";
import { optionalString, parseCommandArgs, parsePositiveInt, parseSeed } from "../args.ts";
import { UsageError } from "../usage-error.ts";
import { checkBenchShape } from "./bench-size.ts";

export const BENCH_USAGE = `gpt2-lens bench [--model DIR] [--batch 1] [--seq 13] [--repeat 5] [--seed 1]

Times the full forward pass (logits at every position) on seeded random tokens: one untimed
warm-up, then --repeat timed runs, each after a full garbage collection (untimed), so the previous
run's logits are not still held. Prints the kernel backend, the model's size, each run's time, the
memory in use (WebAssembly memory, array buffers, V8 heap), the process's peak RSS, and last a line
"forward_ms_median=<ms>".
--model defaults to the bundled greater-than model; --seq must be at most the model's n_ctx, and the
full logits (batch × seq × vocabulary floats) at most 2^32 floats and the machine's memory.`;

/** Seeded xorshift32 token ids in [0, vocab). */
export function randomTokenBatch(batch: number, seq: number, vocab: number, seed: number): TokenBatch {
  const ids = new Int32Array(batch * seq);
  let s = (seed >>> 0) || 0x9e3779b9;
  for (let i = 0; i < ids.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    ids[i] = Math.floor(((s >>> 0) / 4294967296) * vocab);
  }
  return { batch, pos: seq, ids };
}

/**
 * Parameter count, each distinct matrix once (tied embeddings are one matrix), from the config's
 * shapes: reading the arrays would re-load the matrices a packing backend has dropped.
 */
export function parameterCount(model: Gpt2Model): number {
  const { dModel: d, dMlp, dVocab, nCtx, nLayers } = model.config;
  const perBlock = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * dMlp + dMlp) + (dMlp * d + d);
  const unembed = model.config.tiedEmbeddings ? 0 : dVocab * d;
  return dVocab * d + nCtx * d + 2 * d + nLayers * perBlock + unembed;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Peak resident set size of this process in bytes (getrusage ru_maxrss, KiB on Linux). */
function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * A full garbage collection where Node allows it (--expose-gc set at run time, the route the
 * loader takes too), else nothing. Returns whether it ran.
 */
function collectGarbage(): boolean {
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    if (typeof gc !== "function") return false;
    (gc as () => void)();
    return true;
  } catch {
    return false;
  }
}

/** The WebAssembly memory behind a WebAssembly backend's packed weights, when it exposes one. */
interface WasmMemoryInfo {
  /** Current size of the memory (it never shrinks). */
  bytes: number;
  /** End of the highest allocation (packed weights, staging, scratch). */
  inUse: number;
  /** The GEMM's A + C staging arena. */
  staging: number;
}

function wasmMemoryInfo(backend: unknown): WasmMemoryInfo | null {
  const pool = (backend as { pool?: { memory?: { buffer?: ArrayBufferLike }; gemm?: { heapTop?: number; stagingBytes?: number } } }).pool;
  const buffer = pool?.memory?.buffer;
  if (buffer === undefined || typeof pool?.gemm?.heapTop !== "number") return null;
  return { bytes: buffer.byteLength, inUse: pool.gemm.heapTop, staging: pool.gemm.stagingBytes ?? 0 };
}

/** config.json, read before the weights so a bad shape fails fast; null when unreadable (the loader reports it). */
async function configBeforeLoading(dir: string): Promise<Gpt2Config | null> {
  try {
    return parseHfConfig(JSON.parse(await readFile(join(dir, "config.json"), "utf8")));
  } catch {
    return null;
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

export async function benchCommand(argv: readonly string[], log: (line: string) => void): Promise<void> {
  const { values, positionals } = parseCommandArgs("bench", argv, {
    model: { type: "string" },
    batch: { type: "string" },
    seq: { type: "string" },
    repeat: { type: "string" },
    seed: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`bench: unexpected argument "${positionals[0]}"`);
  const batch = parsePositiveInt("bench", values.batch, "batch", 1);
  const seq = parsePositiveInt("bench", values.seq, "seq", 13);
  const repeat = parsePositiveInt("bench", values.repeat, "repeat", 5);
  const seed = parseSeed("bench", values.seed, 1);
  const modelDir = optionalString(values, "model") ?? BUNDLED_MODEL_DIR;
  const early = await configBeforeLoading(modelDir);
  if (early !== null) checkBenchShape(batch, seq, early);

  const loadStart = performance.now();
  const gpt2 = await loadWithProgress(modelDir);
  const loadMs = performance.now() - loadStart;
  const model = new HookedGpt2(gpt2);
  const { config } = model;
  checkBenchShape(batch, seq, config);

  const params = parameterCount(gpt2);
  log(`model ${modelDir}: ${config.nLayers} layers, d_model ${config.dModel}, ${config.nHeads} heads, d_mlp ${config.dMlp}, n_ctx ${config.nCtx}, vocab ${config.dVocab}`);
  log(`parameters ${params} (${mb(params * 4)} as float32); loaded in ${loadMs.toFixed(0)} ms`);
  log(`backend ${gpt2.backend.name}; Node ${process.version}`);
  log(`forward ${batch}×${seq} (full logits, all positions), random tokens seed ${seed}: 1 warm-up, ${repeat} timed run(s)`);

  const tokens = randomTokenBatch(batch, seq, config.dVocab, seed);
  const expected = batch * seq * config.dVocab;
  /**
   * One forward; returns its milliseconds. The logits live only in this function's frame: a
   * variable of the caller's loop would keep the previous run's logits reachable (interpreter
   * registers outlive their block) while the next run allocates its own.
   */
  const forward = (): number => {
    const t0 = performance.now();
    const size = model.run(tokens).logits.size;
    const ms = performance.now() - t0;
    if (size !== expected) throw new Error(`bench: logits have ${size} values, expected ${expected}`);
    return ms;
  };
  forward();
  const samples: number[] = [];
  for (let run = 1; run <= repeat; run++) {
    collectGarbage();
    const ms = forward();
    samples.push(ms);
    log(`run ${run}: ${ms.toFixed(1)} ms`);
  }
  const usage = process.memoryUsage();
  const wasm = wasmMemoryInfo(gpt2.backend);
  const wasmPart = wasm === null ? "" : `wasm memory ${mb(wasm.bytes)} (in use ${mb(wasm.inUse)}, staging ${mb(wasm.staging)}), `;
  log(`memory after the runs: ${wasmPart}array buffers ${mb(usage.arrayBuffers)}, V8 heap ${mb(usage.heapUsed)}, RSS ${mb(usage.rss)}`);
  if (wasm !== null) log(`wasm_memory_bytes=${wasm.bytes}`);
  const peak = peakRssBytes();
  log(`peak_rss_bytes=${peak} (${mb(peak)}, ${(peak / (params * 4)).toFixed(2)}× the float32 weights)`);
  log(`forward_ms_median=${median(samples).toFixed(3)}`);
}
