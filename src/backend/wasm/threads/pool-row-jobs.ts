/**
 * The row-job protocol, main thread's side (the workers' side is in node-pool-worker.ts): a
 * function of a wasm module generated at run time, called by every thread of the pool on disjoint
 * row ranges of the shared memory (e.g. the log-sum-exp's rowStats on a block of logits); see
 * WasmThreadPool.runRows. Argument checks, the chunk plan, the arguments of one chunk, and the job.
 */
import { Gpt2LensError, InputError } from "../../../errors.ts";
import { CONTROL, JOB, JOB_KIND, MAX_ROW_ARGS } from "./node-pool-worker.ts";
import type { WasmThreadPool } from "./node-wasm-thread-pool.ts";
import { type WasmMemory, webAssembly } from "../wasm-api.ts";

/** A wasm function registered with a pool (WasmThreadPool.rowKernel) for WasmThreadPool.runRows. */
export interface PoolRowKernel {
  /** The id the workers cache their instance under. */
  readonly id: number;
  /** Byte address and length of the module bytes in the shared memory (the workers compile them). */
  readonly bytesAddress: number;
  readonly bytesLength: number;
  /** Index of the function among the module's exports. */
  readonly exportIndex: number;
  /** The main thread's instance of the function. */
  readonly call: (...args: number[]) => unknown;
}

/** How a row job's arguments depend on the rows of a chunk. */
export interface RowJobLayout {
  /** Index of the argument that is the row count (a chunk gets its own row count there). */
  readonly countArg: number;
  /**
   * Bytes per row, per argument: a chunk starting at row r0 gets argument i + r0·rowStrides[i]
   * (a pointer to per-row data), 0 for arguments that are the same for every chunk.
   */
  readonly rowStrides: readonly number[];
  /** The cost of a row (e.g. its elements), compared with the pool's minParallelRowWork. */
  readonly workPerRow: number;
  /**
   * Per-thread scratch: argument `arg` (row stride 0) is replaced by the address of `bytes` bytes
   * (64-byte aligned) that only the thread running the chunk uses while it runs.
   */
  readonly scratch?: { readonly arg: number; readonly bytes: number };
}

/** Rows per chunk and chunks: about 4 per thread, so a descheduled thread delays the job little. */
export function rowChunkPlan(rows: number, threads: number): { chunkRows: number; chunks: number } {
  const chunkRows = Math.max(1, Math.ceil(rows / (4 * threads)));
  return { chunkRows, chunks: Math.ceil(rows / chunkRows) };
}

/**
 * The arguments of the chunk [r0, r1): int32s, as the worker computes them (addresses above 2 GiB
 * wrap to the same i32 bits either way).
 */
export function rowChunkArgs(args: readonly number[], layout: RowJobLayout, r0: number, r1: number): number[] {
  const out = args.map((arg, i) => (arg + r0 * layout.rowStrides[i]!) | 0);
  out[layout.countArg] = r1 - r0;
  return out;
}

/** Throws an InputError unless `rows`, `args` and `layout` describe a valid row job. */
export function checkRowJob(where: string, rows: number, args: readonly number[], layout: RowJobLayout): void {
  if (!Number.isInteger(rows) || rows < 0 || rows > 0x7fffffff) {
    throw new InputError(`${where}: rows = ${rows} must be a non-negative int32`, "bad_shape");
  }
  if (args.length > MAX_ROW_ARGS || layout.rowStrides.length !== args.length) {
    throw new InputError(`${where}: ${args.length} arguments with ${layout.rowStrides.length} row strides (at most ${MAX_ROW_ARGS})`, "bad_input");
  }
  if (!Number.isInteger(layout.countArg) || layout.countArg < 0 || layout.countArg >= args.length) {
    throw new InputError(`${where}: countArg = ${layout.countArg} is not an argument index`, "bad_input");
  }
  if (![...args, ...layout.rowStrides].every((v) => Number.isInteger(v))) {
    throw new InputError(`${where}: arguments and row strides must be integers`, "bad_input");
  }
  const scratch = layout.scratch;
  if (scratch !== undefined) {
    const { arg, bytes } = scratch;
    if (!Number.isInteger(arg) || arg < 0 || arg >= args.length || arg === layout.countArg || layout.rowStrides[arg] !== 0) {
      throw new InputError(`${where}: scratch argument ${arg} must be another argument than the count, with row stride 0`, "bad_input");
    }
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > 0x40000000) {
      throw new InputError(`${where}: scratch bytes = ${bytes} must be a positive integer of at most 1 GiB`, "bad_input");
    }
  }
}

/** Static WebAssembly.Module.exports, not in the structural WebAssemblyApi. */
type ModuleExports = (module: object) => { name: string; kind: string }[];

/**
 * Compiles `bytes` and instantiates it on `memory` (imported as env.memory) for the main thread;
 * returns the function `exportName` and its index among the module's exports.
 */
export function instantiateRowKernel(
  bytes: Uint8Array<ArrayBuffer>, exportName: string, memory: WasmMemory,
): { call: (...args: number[]) => unknown; exportIndex: number } {
  const wa = webAssembly();
  if (wa === undefined) throw new Gpt2LensError("internal", "NodeGemmPool.rowKernel: no WebAssembly");
  const module = new wa.Module(bytes);
  const exportIndex = (wa.Module as unknown as { exports: ModuleExports }).exports(module)
    .findIndex((e) => e.name === exportName && e.kind === "function");
  if (exportIndex < 0) throw new InputError(`NodeGemmPool.rowKernel: the module exports no function ${exportName}`, "bad_input");
  const call = new wa.Instance(module, { env: { memory } }).exports[exportName] as (...args: number[]) => unknown;
  return { call, exportIndex };
}

/** The error a row job reports when its kernel trapped (on this thread: `cause`). */
export function rowKernelFailed(where: string, cause?: unknown): Gpt2LensError {
  return cause === undefined
    ? new Gpt2LensError("kernel_failed", `${where}: the row kernel failed in a worker thread`)
    : new Gpt2LensError("kernel_failed", `${where}: the row kernel failed: ${(cause as Error).message}`, { cause });
}

/** Floats of scratch per thread, rounded up to a 64-byte multiple so every block stays aligned. */
export function alignedScratch(floats: number): number {
  return Math.ceil(floats / 16) * 16;
}

/**
 * Runs a checked row job of `kernel` (registered with `pool`) on rows [0, rows): split over the
 * pool's threads when rows·workPerRow reaches its minParallelRowWork, else one call here.
 */
export function runRowJob(pool: WasmThreadPool, where: string, kernel: PoolRowKernel, rows: number, args: readonly number[], layout: RowJobLayout): void {
  let workers = rows * layout.workPerRow >= pool.minParallelRowWork ? pool.readyWorkers() : [];
  const { chunkRows, chunks } = rowChunkPlan(rows, 1 + workers.length);
  if (chunks < 2) workers = [];
  const scratchArg = layout.scratch?.arg ?? -1;
  if (layout.scratch !== undefined) {
    const stride = alignedScratch(Math.ceil(layout.scratch.bytes / 4)) * 4;
    const base = pool.rowScratchFor(stride, 1 + workers.length);
    args = args.map((arg, i) => (i === scratchArg ? base : arg));
    workers.forEach((w, i) => void (w.control[CONTROL.SCRATCH] = (base + (i + 1) * stride) | 0));
  }
  if (workers.length === 0) {
    try {
      kernel.call(...rowChunkArgs(args, layout, 0, rows));
    } catch (error) {
      throw rowKernelFailed(where, error);
    }
    return;
  }
  const job = pool.job;
  job[JOB.KIND] = JOB_KIND.ROWS;
  job[JOB.ROW_KERNEL] = kernel.id;
  job[JOB.ROW_KERNEL_BYTES] = kernel.bytesAddress | 0;
  job[JOB.ROW_KERNEL_LENGTH] = kernel.bytesLength;
  job[JOB.ROW_KERNEL_EXPORT] = kernel.exportIndex;
  job[JOB.ROWS] = rows;
  job[JOB.ROW_CHUNK_ROWS] = chunkRows;
  job[JOB.ROW_JOB_CHUNKS] = chunks;
  job[JOB.ROW_COUNT_ARG] = layout.countArg;
  job[JOB.ROW_ARG_COUNT] = args.length;
  job[JOB.ROW_SCRATCH_ARG] = scratchArg;
  for (let i = 0; i < args.length; i++) {
    job[JOB.ROW_ARGS + i] = args[i]! | 0;
    job[JOB.ROW_STRIDES + i] = layout.rowStrides[i]! | 0;
  }
  Atomics.store(job, JOB.NEXT, 0);
  const offered = pool.testSchedule === "main" ? [] : workers;
  pool.post(offered);
  let failure: unknown;
  try {
    if (pool.testSchedule === "workers") pool.waitJoined(offered);
    for (;;) {
      const chunk = pool.testSchedule === "workers" ? chunks : Atomics.add(job, JOB.NEXT, 1);
      if (chunk >= chunks) break;
      const r0 = chunk * chunkRows;
      try {
        kernel.call(...rowChunkArgs(args, layout, r0, Math.min(rows, r0 + chunkRows)));
      } catch (error) {
        failure ??= error;
      }
    }
  } finally {
    // Join (also if something above threw): withdraw the job from workers that never started it.
    for (const w of offered) if (pool.claimed(w)) pool.waitDone(w);
  }
  if (failure !== undefined) throw rowKernelFailed(where, failure);
  if (offered.some((w) => pool.failed(w))) throw rowKernelFailed(where);
}
