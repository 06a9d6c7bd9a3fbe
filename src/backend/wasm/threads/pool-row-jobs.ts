/**
 * Row jobs on the GEMM pool (NodeGemmPool.runRows): a function of a wasm module generated at run
 * time, called by every thread of the pool on disjoint row ranges of the shared memory (e.g. the
 * log-sum-exp's rowStats on a block of logits). The protocol is in node-gemm-worker.ts; this file
 * holds the main thread's side of it that does not touch the workers: argument checks, the chunk
 * plan, and the arguments of one chunk.
 */
import { Gpt2LensError, InputError } from "../../../errors.ts";
import { MAX_ROW_ARGS } from "./node-pool-worker.ts";
import { type WasmMemory, webAssembly } from "../wasm-api.ts";

/** A wasm function registered with a pool (NodeGemmPool.rowKernel) for {@link NodeGemmPool.runRows}. */
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
