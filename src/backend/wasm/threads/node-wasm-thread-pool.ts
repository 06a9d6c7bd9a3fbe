/**
 * WasmThreadPool (formerly NodeGemmPool): WebAssembly kernels split across the CPU cores. This file
 * is the pool itself (workers, their lifecycle, fork/join, buffers); the main thread's sides of its
 * two job protocols are gemm-job.ts (with staging-ring.ts) and pool-row-jobs.ts, the workers'
 * sides node-pool-worker.ts.
 *
 * GEMM jobs: one float32 GEMM split across the CPU cores. A persistent pool of
 * node:worker_threads workers shares one WebAssembly.Memory ({ shared: true }) with the main
 * thread; each thread runs the same generated SIMD kernel (`gemmRange`) on its own slice of the
 * output. Works in Node ≥ 20 and Deno (through its node:worker_threads / node:os compatibility).
 *
 * Fork-join without messages (protocol in node-pool-worker.ts): matmul writes the job into a
 * small Int32Array block on a SharedArrayBuffer, stores POSTED in each worker's control block and
 * `Atomics.notify`s; then the main thread and the workers that wake up take chunks of the output
 * from a shared counter. The output is split by column panels — one panel group per thread
 * (T groups of P/T panels) — and each group further by row blocks (the kernel's row block for
 * the product, rowBlockRows in gemm-kernel.ts: more rows when B is streamed from memory), so
 * there are several chunks per thread; with few panels (large m, small n) by rows only, with few
 * rows by more, narrower panel groups. Taking chunks dynamically keeps both cores busy even when
 * one thread is descheduled (a machine shared with other jobs): the main thread never waits for
 * a worker that has not started, it withdraws the job and finishes alone. While workers compute,
 * the main thread copies finished chunks from the shared staging buffer into the caller's `out`
 * (the copy-out would otherwise be a serial tail). Every output element is
 * computed by the same sequence of operations however the work is split, so results are
 * bit-identical to the single-threaded WasmGemm. Matmuls below `minParallelFlops` (2·m·n·k,
 * default 4e6) run on the main thread only.
 *
 * Row jobs: besides GEMMs the pool runs functions of other generated wasm modules (registered
 * with {@link WasmThreadPool.rowKernel}) on disjoint row ranges, split over the threads the same way
 * ({@link WasmThreadPool.runRows}; e.g. the log-sum-exp of a block of logits, pool-logsumexp.ts).
 * Jobs with rows·workPerRow below `minParallelRowWork` (default 2^18) run on the main thread only.
 *
 * Lifetime: workers are unref()ed, so a process that never calls {@link WasmThreadPool.close} still
 * exits; close() stops and terminates them. Workers start in the background: the pool only hands
 * work to workers that have reported ready (until then matmuls run on the main thread), see
 * {@link WasmThreadPool.waitUntilReady}.
 *
 * Staging: ordinary-array operands go through the WasmGemm's staging arena, bounded by its
 * staging budget (default 32 MiB for A and C together): a larger product runs in blocks through
 * two slots — while the threads compute one block the main thread copies the previous one's
 * chunks out and the next one's inputs in — so e.g. the logits are never held a second time in
 * the memory (which never shrinks). When C is staged (an ordinary `out`), the blocks are column
 * strips of all rows, at most 4 MiB each (stagingStripColumns), so the logits touch only two
 * strips' worth of the arena; otherwise row blocks of half the budget each.
 *
 * Memory: the shared memory is created with a fixed maximum (default 65536 pages = 4 GiB, the whole
 * wasm32 space; shared memories cannot grow past their maximum — creating it only reserves address
 * space). Growing a shared memory never detaches views, but views taken before a growth keep their
 * old length; {@link WasmF32Buffer.view} always returns a current one.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { Gpt2LensError, InputError } from "../../../errors.ts";
import type { WasmF32Buffer } from "../gemm/heap.ts";
import type { PackedMatrix } from "../gemm/packing.ts";
import { WasmGemm, type WasmGemmOptions } from "../gemm/wasm-gemm.ts";
import { generateGemmModule, scratchFloats } from "../kernels/gemm-kernel.ts";
import type { WasmMemory } from "../wasm-api.ts";
import { createSharedMemory } from "../wasm-api.ts";
import { runGemmJob } from "./gemm-job.ts";
import { CONTROL, CONTROL_INTS, GEMM_WORKER_SOURCE, type GemmWorkerData, JOB_INTS, WORKER_STATE } from "./node-pool-worker.ts";
import { alignedScratch, checkRowJob, instantiateRowKernel, type PoolRowKernel, type RowJobLayout, runRowJob } from "./pool-row-jobs.ts";

export interface WasmThreadPoolOptions {
  /** Threads including the main thread (default: os.availableParallelism()); 1 = no workers. */
  threads?: number;
  /** Relaxed-SIMD multiply-add where the engine has it (see WasmGemmOptions). Default: on where supported. */
  relaxedSimd?: boolean;
  /** Override the kernel's tiling (benchmarks, tests). */
  kernel?: WasmGemmOptions["kernel"];
  /** Initial size of the shared memory in 64 KiB pages (default 16). */
  initialPages?: number;
  /** Maximum size of the shared memory in pages (default 65536 = 4 GiB; halved on failure). */
  maximumPages?: number;
  /** Matmuls with 2·m·n·k below this run on the main thread only (default 4e6). */
  minParallelFlops?: number;
  /** Narrowest panel group a chunk may have, in panels (default 16 = 128 columns). */
  minChunkPanels?: number;
  /** Bound on the A and C staging in the shared memory, see WasmGemmOptions.stagingBudgetBytes. */
  stagingBudgetBytes?: number;
  /** Row jobs with rows·workPerRow below this run on the main thread only (default 2^18). */
  minParallelRowWork?: number;
  /** See WasmGemmOptions.columnStrips. */
  columnStrips?: boolean;
  /**
   * Tests only; leave unset. Who runs a split job's chunks is otherwise a race (a descheduled
   * worker may miss a job), so tests that must know a path ran fix it here instead: "workers" —
   * the main thread waits for every worker to join and takes no chunks itself; "main" — the job
   * is planned for all threads but the workers are not offered it. Results are the same either way.
   */
  testSchedule?: "workers" | "main";
}

/** Upper bound on threads (keeps the per-thread scratch and control blocks bounded). */
const MAX_THREADS = 64;

/** A worker of the pool as the job protocols see it: its control block (see node-pool-worker.ts). */
export interface PoolWorker {
  readonly control: Int32Array;
  /** False once the worker exited or failed. */
  usable: boolean;
}

/** The thread itself is kept out of the exported type, so the declarations need no Node types. */
interface OwnedWorker extends PoolWorker {
  readonly worker: Worker;
}

function defaultThreads(): number {
  try {
    return availableParallelism();
  } catch {
    return 1;
  }
}

export class WasmThreadPool {
  /** The allocator and single-threaded kernel on the shared memory (buffers for in-place use). */
  readonly gemm: WasmGemm;
  readonly memory: WasmMemory;
  /** Threads the pool was sized to, including the main thread. */
  readonly threads: number;
  readonly minParallelFlops: number;
  readonly minParallelRowWork: number;

  private readonly workers: OwnedWorker[];
  /** The job block every thread reads (JOB in node-pool-worker.ts); for the job protocols. */
  readonly job: Int32Array;
  /** Narrowest panel group of a GEMM chunk (see WasmThreadPoolOptions). */
  readonly minChunkPanels: number;
  /** See WasmThreadPoolOptions.testSchedule; for the job protocols. */
  readonly testSchedule: WasmThreadPoolOptions["testSchedule"];
  private readonly packs = new WeakSet<PackedMatrix>();
  /** Every buffer object the shared memory has had: views of any of them address this memory. */
  private readonly memoryBuffers = new WeakSet<object>();
  /** One scratch block per thread (`threads` × scratchStride floats). */
  private scratch: WasmF32Buffer | undefined;
  /** Floats per thread of the scratch from the last {@link scratchFor}. */
  scratchStride = 0;
  /** Per-chunk completion flags (int32s) for overlapping the copy-out. */
  private flagsBuffer: WasmF32Buffer | undefined;
  /** One scratch block per thread for row jobs that ask for one (RowJobLayout.scratch). */
  private rowScratch: WasmF32Buffer | undefined;
  private readonly rowKernels = new WeakSet<PoolRowKernel>();
  private nextRowKernelId = 1;
  private closed = false;

  private constructor(gemm: WasmGemm, threads: number, job: Int32Array, workers: OwnedWorker[], options: WasmThreadPoolOptions) {
    this.gemm = gemm;
    this.memory = gemm.memory;
    this.threads = threads;
    this.job = job;
    this.workers = workers;
    this.minParallelFlops = options.minParallelFlops ?? 4e6;
    this.minParallelRowWork = options.minParallelRowWork ?? 1 << 18;
    this.minChunkPanels = Math.max(1, Math.floor(options.minChunkPanels ?? 16));
    this.testSchedule = options.testSchedule;
  }

  /**
   * Creates the shared memory, the main thread's kernel and `threads - 1` workers (started in the
   * background). Returns null when WebAssembly SIMD or shared memory is unavailable.
   */
  static create(options: WasmThreadPoolOptions = {}): WasmThreadPool | null {
    const requested = options.threads ?? defaultThreads();
    if (!Number.isInteger(requested) || requested < 1) {
      throw new InputError(`NodeGemmPool: threads=${requested} must be a positive integer`, "bad_threads");
    }
    const threads = Math.min(requested, MAX_THREADS);
    if (!WasmGemm.isSupported()) return null;
    const memory = createSharedMemory(options.initialPages ?? 16, options.maximumPages ?? 65536);
    if (memory === null) return null;
    const gemm = WasmGemm.create({ memory, relaxedSimd: options.relaxedSimd, kernel: options.kernel, stagingBudgetBytes: options.stagingBudgetBytes, columnStrips: options.columnStrips });
    if (gemm === null) return null;

    const jobBuffer = new SharedArrayBuffer(JOB_INTS * 4);
    const workers: OwnedWorker[] = [];
    if (threads > 1) {
      const { bytes } = generateGemmModule({ ...gemm.kernelOptions, sharedMemory: true });
      for (let t = 1; t < threads; t++) {
        const controlBuffer = new SharedArrayBuffer(CONTROL_INTS * 4);
        const workerData: GemmWorkerData = { bytes, memory, job: jobBuffer, control: controlBuffer };
        let worker: Worker;
        try {
          worker = new Worker(GEMM_WORKER_SOURCE, { eval: true, workerData, name: `gpt2-lens gemm ${t}` });
        } catch {
          break; // no worker threads here: run with the ones we have
        }
        const entry: OwnedWorker = { worker, control: new Int32Array(controlBuffer), usable: true };
        // Never let a worker's failure become an unhandled 'error' event; just stop using it.
        worker.on("error", () => void (entry.usable = false));
        worker.on("exit", () => void (entry.usable = false));
        worker.unref();
        workers.push(entry);
      }
    }
    return new WasmThreadPool(gemm, threads, new Int32Array(jobBuffer), workers, options);
  }

  /** Panel width of packed matrices. */
  get nr(): number {
    return this.gemm.nr;
  }

  /** Threads a large matmul uses right now: the main thread plus the ready, usable workers. */
  get activeThreads(): number {
    return 1 + this.readyWorkers().length;
  }

  /** Chunks (GEMM and row-job) the workers have computed so far (the rest ran on the main thread). */
  get workerChunks(): number {
    let total = 0;
    for (const w of this.workers) total += Atomics.load(w.control, CONTROL.CHUNKS);
    return total;
  }

  /**
   * Blocks until every worker has started (or failed to), at most `timeoutMs` in total. Returns
   * true when all `threads - 1` workers are ready.
   */
  waitUntilReady(timeoutMs = 10_000): boolean {
    const deadline = Date.now() + timeoutMs;
    for (const w of this.workers) {
      while (w.usable && Atomics.load(w.control, CONTROL.READY) === 0) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        Atomics.wait(w.control, CONTROL.READY, 0, Math.min(left, 50));
      }
    }
    return this.readyWorkers().length === this.workers.length;
  }

  /** Packs B[k,n] (row-major) into the shared memory, for {@link matmul}. */
  pack(b: Float32Array, k: number, n: number): PackedMatrix {
    const packed = this.gemm.pack(b, k, n);
    this.packs.add(packed);
    return packed;
  }

  /** Packs B given as Bᵀ[n,k] (row-major) into the shared memory, for {@link matmul}. */
  packTransposed(bt: Float32Array, n: number, k: number): PackedMatrix {
    const packed = this.gemm.packTransposed(bt, n, k);
    this.packs.add(packed);
    return packed;
  }

  /**
   * `floats` floats of the shared memory for in-place use by {@link matmul} (contents unspecified):
   * the view stays valid, and is still used in place, after the memory grows. Release it with
   * {@link freeView}.
   */
  allocView(floats: number): { readonly view: Float32Array; readonly buffer: WasmF32Buffer } {
    const buffer = this.gemm.alloc(floats);
    const view = buffer.view();
    this.memoryBuffers.add(view.buffer);
    return { view, buffer };
  }

  /** True when `x` is a non-empty view of this pool's shared memory (from before or after growth). */
  isMemoryView(x: Float32Array): boolean {
    this.memoryBuffers.add(this.memory.buffer);
    return x.byteLength > 0 && this.memoryBuffers.has(x.buffer);
  }

  /** A view of the memory's current buffer over the same floats when `x` views an older one (else `x`). */
  private currentView(x: Float32Array): Float32Array {
    const buffer = this.memory.buffer;
    if (x.buffer === buffer || !this.isMemoryView(x)) return x;
    return new Float32Array(buffer, x.byteOffset, x.length);
  }

  /** Releases a packed matrix made by this pool. */
  free(packed: PackedMatrix): void {
    if (!this.packs.delete(packed)) {
      throw new InputError("NodeGemmPool.free: not a live packed matrix of this pool", "foreign_buffer");
    }
    this.gemm.free(packed.buffer);
  }

  /** True if `packed` was made by this pool's pack()/packTransposed() and not freed. */
  owns(packed: PackedMatrix): boolean {
    return this.packs.has(packed);
  }

  /**
   * out[m,n] = a[m,k] · B (+ bias[n]); with `accumulate`, out += a · B (+ bias). Same contract as
   * {@link WasmGemm.matmul}: `a`, `out`, `bias` may be ordinary Float32Arrays (staged through the
   * shared memory) or current views of it (used in place).
   *
   * Staging: a product whose staged rows (A and C) exceed the gemm's staging budget is run in
   * blocks through two staging slots, as one job — column strips of all rows when C is staged (A
   * then staged whole, if at all), else row blocks of half the budget each: while the threads
   * compute one block, the main thread copies finished chunks of the previous one out and the next
   * block's inputs in (see node-pool-worker.ts).
   */
  matmul(
    a: Float32Array, m: number, b: PackedMatrix, out: Float32Array, bias?: Float32Array, accumulate = false, spare?: readonly Float32Array[],
  ): void {
    const where = "NodeGemmPool.matmul";
    if (!this.packs.has(b)) {
      throw new InputError(`${where}: b must be a live PackedMatrix made by this pool's pack()/packTransposed()`, "foreign_buffer");
    }
    if (this.closed) throw new InputError(`${where}: the pool was closed (a model loaded on it must be loaded again, which gets a new pool)`, "pool_closed");
    const { k, n } = b;
    const large = Number.isInteger(m) && m > 0 && n > 0 && 2 * m * n * k >= this.minParallelFlops;
    const workers = large ? this.readyWorkers() : [];
    // Small products (and a pool without ready workers) take the single-threaded path unchanged.
    if (workers.length === 0) {
      this.gemm.matmul(this.currentView(a), m, b, this.currentView(out), bias && this.currentView(bias), accumulate);
      return;
    }
    runGemmJob(this, where, workers, a, m, b, out, bias, accumulate, spare);
  }

  /**
   * Registers the function `exportName` of a wasm module for {@link runRows}. The module must
   * import its memory as env.memory, a shared memory (e.g. generated with sharedMemory: true); it
   * is instantiated on the pool's memory by the main thread now, and by each worker when it first
   * runs a job of it (the bytes stay in the shared memory while the pool lives). Register a module
   * once and reuse the kernel: each registration holds its bytes and every thread's instance.
   */
  rowKernel(bytes: Uint8Array<ArrayBuffer>, exportName: string): PoolRowKernel {
    if (this.closed) throw new InputError("NodeGemmPool.rowKernel: the pool was closed", "pool_closed");
    const { call, exportIndex } = instantiateRowKernel(bytes, exportName, this.memory);
    const stored = this.gemm.alloc(Math.ceil(bytes.length / 4));
    new Uint8Array(this.memory.buffer, stored.ptr, bytes.length).set(bytes);
    const kernel: PoolRowKernel = { id: this.nextRowKernelId++, bytesAddress: stored.ptr, bytesLength: bytes.length, exportIndex, call };
    this.rowKernels.add(kernel);
    return kernel;
  }

  /**
   * Calls `kernel` on rows [0, rows) split into chunks over the pool's threads (see RowJobLayout for
   * how each chunk's arguments follow from `args`), or once with `args` on the main thread when
   * rows·workPerRow is below minParallelRowWork. The rows must be independent (no chunk may read
   * what another writes): then, each row being computed by the same code, results equal one call.
   * A trap in any thread is thrown as a Gpt2LensError "kernel_failed" once all threads are done.
   */
  runRows(kernel: PoolRowKernel, rows: number, args: readonly number[], layout: RowJobLayout): void {
    const where = "NodeGemmPool.runRows";
    if (!this.rowKernels.has(kernel)) throw new InputError(`${where}: not a row kernel of this pool`, "foreign_kernel");
    if (this.closed) throw new InputError(`${where}: the pool was closed (a model loaded on it must be loaded again, which gets a new pool)`, "pool_closed");
    checkRowJob(where, rows, args, layout);
    if (rows === 0) return;
    runRowJob(this, where, kernel, rows, args, layout);
  }

  /** Offers the job in `job` to `workers` (whose CONTROL.SCRATCH is set). For the job protocols. */
  post(workers: readonly PoolWorker[]): void {
    for (const w of workers) {
      Atomics.store(w.control, CONTROL.ERROR, 0);
      Atomics.store(w.control, CONTROL.STATE, WORKER_STATE.POSTED);
      Atomics.notify(w.control, CONTROL.STATE);
    }
  }

  /** True when a worker that joined the job reported a trap. */
  failed(w: PoolWorker): boolean {
    return Atomics.load(w.control, CONTROL.ERROR) !== 0;
  }

  /**
   * Called once no chunks are left: withdraws the job if the worker has not joined it yet (false:
   * it took no chunks), else true (it is running or done).
   */
  claimed(w: PoolWorker): boolean {
    return Atomics.compareExchange(w.control, CONTROL.STATE, WORKER_STATE.POSTED, WORKER_STATE.IDLE) !== WORKER_STATE.POSTED;
  }

  /** testSchedule "workers": waits until each worker has joined the posted job (it then takes chunks until none are left). */
  waitJoined(workers: readonly PoolWorker[]): void {
    for (const w of workers) {
      // A worker does not notify when it joins: poll (tests only).
      while (Atomics.load(w.control, CONTROL.STATE) === WORKER_STATE.POSTED) Atomics.wait(w.control, CONTROL.STATE, WORKER_STATE.POSTED, 1);
    }
  }

  /** Waits until a worker that joined the job has finished its last chunk. */
  waitDone(w: PoolWorker): void {
    const ctl = w.control;
    for (;;) {
      const state = Atomics.load(ctl, CONTROL.STATE);
      if (state === WORKER_STATE.DONE) return;
      if (state !== WORKER_STATE.RUNNING) throw new Gpt2LensError("gemm_failed", `NodeGemmPool: unexpected worker state ${state}`);
      Atomics.wait(ctl, CONTROL.STATE, WORKER_STATE.RUNNING, 1000);
    }
  }

  /** `chunks` zeroed int32 chunk flags in the shared memory (reused between calls). */
  chunkFlags(chunks: number): Int32Array {
    if (this.flagsBuffer === undefined || this.flagsBuffer.length < chunks) {
      if (this.flagsBuffer !== undefined) this.gemm.free(this.flagsBuffer);
      this.flagsBuffer = this.gemm.alloc(Math.max(chunks, 256));
    }
    const view = this.flagsBuffer.view();
    const flags = new Int32Array(view.buffer, view.byteOffset, chunks);
    flags.fill(0);
    return flags;
  }

  /** The usable workers that have reported ready. */
  readyWorkers(): PoolWorker[] {
    return this.workers.filter((w) => w.usable && Atomics.load(w.control, CONTROL.READY) === 1);
  }

  /** Byte address of `threads` scratch blocks for inner dimension k (one per thread). */
  scratchFor(k: number, threads: number): number {
    const stride = alignedScratch(scratchFloats(this.gemm.layout, k));
    const need = stride * threads;
    if (this.scratch === undefined || this.scratch.length < need) {
      if (this.scratch !== undefined) this.gemm.free(this.scratch);
      // Size for all threads the pool may ever use, so a worker becoming ready does not reallocate.
      this.scratch = this.gemm.alloc(stride * Math.max(threads, this.threads));
    }
    this.scratchStride = stride;
    return this.scratch.ptr;
  }

  /** Byte address of `threads` row-job scratch blocks of `strideBytes` each (kept and grown as needed). */
  rowScratchFor(strideBytes: number, threads: number): number {
    const floats = (strideBytes / 4) * threads;
    if (this.rowScratch === undefined || this.rowScratch.length < floats) {
      if (this.rowScratch !== undefined) this.gemm.free(this.rowScratch);
      this.rowScratch = undefined;
      this.rowScratch = this.gemm.alloc((strideBytes / 4) * Math.max(threads, this.threads));
    }
    return this.rowScratch.ptr;
  }

  /** True once {@link close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes the A and C staging buffers hold now (at most the budget; see WasmGemm.stagingBytes). */
  get stagingBytes(): number {
    return this.gemm.stagingBytes;
  }

  /** Frees the cached staging buffers (shared with the single-threaded path). */
  releaseStaging(): void {
    this.gemm.releaseStaging();
  }

  /**
   * Stops and terminates the workers. The pool can no longer multiply afterwards (packed matrices
   * and buffers in its memory stay readable). Calling close() again is harmless.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) {
      w.usable = false;
      const state = Atomics.load(w.control, CONTROL.STATE);
      if (state !== WORKER_STATE.RUNNING && state !== WORKER_STATE.POSTED) {
        Atomics.store(w.control, CONTROL.STATE, WORKER_STATE.QUIT);
        Atomics.notify(w.control, CONTROL.STATE);
      }
    }
    await Promise.all(this.workers.map((w) => w.worker.terminate().catch(() => undefined)));
  }
}

/** The pool's former name. */
export const NodeGemmPool = WasmThreadPool;
export type NodeGemmPool = WasmThreadPool;
export type NodeGemmPoolOptions = WasmThreadPoolOptions;
