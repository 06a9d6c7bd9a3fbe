/**
 * The worker side of the wasm thread pool (node-wasm-thread-pool.ts; main thread sides in gemm-job.ts and pool-row-jobs.ts), and the shared-memory protocol both sides
 * use.
 *
 * The worker is not a file: it is the self-contained script {@link GEMM_WORKER_SOURCE}, started with
 * `new Worker(GEMM_WORKER_SOURCE, { eval: true, workerData })`. That sidesteps resolving a worker
 * entry file, which differs between dist/ (compiled .js), Deno running src/*.ts directly, and vitest
 * (vite transpiles .ts, but a Node 20 worker_threads Worker cannot load .ts), and it runs the same
 * in Node (evaluated as a CommonJS script) and Deno (evaluated as an ES module): the script uses
 * only `import("node:worker_threads")`, WebAssembly and Atomics.
 *
 * workerData: `{ bytes, memory, job, control }` — the generated GEMM module bytes (compiled for a
 * shared memory), the pool's shared WebAssembly.Memory, the pool's job block (shared by all
 * threads, {@link JOB_INTS} int32s) and this worker's control block ({@link CONTROL_INTS} int32s).
 *
 * A GEMM job (job[KIND] = GEMM) is one matmul cut into row blocks of BLOCK_ROWS rows (one block when
 * nothing is staged or everything fits the staging budget) or, when only C is staged in pieces,
 * column strips of all rows (JOB.STRIP_COLS: then "rows"/"panels" below are the strip's), each block into CHUNKS_PER_BLOCK chunks: chunk c is in
 * block β = ⌊c / CHUNKS_PER_BLOCK⌋; its index l = c mod CHUNKS_PER_BLOCK in the block covers panel
 * group g = ⌊l / rowChunks⌋ (panels [g·groupPanels, min(P, (g+1)·groupPanels))) × row chunk
 * r = l mod rowChunks (the block's rows [r·chunkRows, min(mβ, (r+1)·chunkRows)), none if past
 * the block's mβ rows), run as one kernel row block (gemmRange's mc = chunkRows). Block β's A
 * starts at a + s·BLOCK_ROWS·k·4 and its C at c + s·BLOCK_ROWS·n·4, where s = β mod A_SLOTS (resp. C_SLOTS) for a staged operand (a ring of
 * staging slots) and s = β for one used in place (slots 0). Every thread — the main thread and
 * each worker that joins — takes the next chunk with Atomics.add(job, NEXT, 1) until they run
 * out, so a thread that the OS does not schedule simply does fewer chunks. A chunk of block β may
 * only run once β < job[READY] (the main thread has copied that block's inputs into its slot,
 * after the block that used the slot before was copied out): a worker waits on READY. A worker
 * marks each chunk it finished in the chunk flags, and the main thread copies finished chunks out
 * and refills free slots meanwhile.
 *
 * A row job (job[KIND] = ROWS) calls one exported function of a wasm "row kernel" module on
 * disjoint row ranges: rows [0, ROWS) are cut into ROW_JOB_CHUNKS chunks of ROW_CHUNK_ROWS rows,
 * taken with Atomics.add(job, NEXT, 1) like GEMM chunks (no READY, no chunk flags). For chunk [r0, r1) the function is called with
 * the job's ROW_ARG_COUNT int32 arguments, argument i advanced by r0·ROW_STRIDES[i] (its bytes per
 * row: a pointer to per-row data; 0 for a scalar) and argument ROW_COUNT_ARG replaced by r1 − r0;
 * argument ROW_SCRATCH_ARG (if ≥ 0) is the thread's own scratch, control[SCRATCH] in a worker.
 * Kernel modules reach the workers through the shared memory, not messages: the job names the
 * kernel's id and the address and length of its module bytes there, and the index of the function
 * among the module's exports (WebAssembly.Module.exports order); a worker compiles and instantiates
 * (on the shared memory, imported as env.memory) each id once and keeps it. A worker that cannot
 * instantiate a kernel takes no chunks of its jobs (the other threads do them all); a kernel that
 * traps sets ERROR.
 *
 * Protocol (no message per operation). `control[STATE]` drives each worker:
 *   IDLE/DONE → the worker sleeps in Atomics.wait(control, STATE, state).
 *   The main thread writes the job block, stores POSTED in every control block and notifies.
 *   A worker joins with compareExchange(POSTED → RUNNING), takes chunks until none are left,
 *   adds the chunks it ran to CHUNKS, stores ERROR (0/1), then DONE, and notifies.
 *   When the main thread runs out of chunks it withdraws the job from every worker that has not
 *   joined yet with compareExchange(POSTED → IDLE) — no waiting for threads that never woke up — and
 *   waits for DONE from those that did.
 *   QUIT makes the worker's loop return; with nothing else scheduled the worker then exits.
 * `control[READY]` is 0 while starting, 1 once the kernel is instantiated, -1 if that failed.
 */

/** Int32 slots of a worker's control block. */
export const CONTROL = {
  STATE: 0,
  READY: 1,
  ERROR: 2,
  /** Chunks this worker has run so far (statistics). */
  CHUNKS: 3,
  /** Byte address of this worker's kernel scratch. */
  SCRATCH: 4,
} as const;

/** Int32s per control block (64 bytes: one cache line per worker). */
export const CONTROL_INTS = 16;

/** Int32 slots of the pool's job block. */
export const JOB = {
  /** The next chunk to take (Atomics.add). */
  NEXT: 0,
  /** gemmRange arguments a, b, c, bias, m, n, k, flags at ARGS..ARGS+7. */
  ARGS: 1,
  CHUNK_ROWS: 9,
  ROW_CHUNKS: 10,
  GROUP_PANELS: 11,
  PANELS: 12,
  CHUNKS: 13,
  /**
   * Byte address in the shared memory of one int32 per chunk (0 = none): a worker stores 1 there
   * (2 if the kernel threw) and notifies once it finished that chunk, so the main thread can copy
   * finished parts of the output out while the rest is still being computed.
   */
  CHUNK_FLAGS: 14,
  /** Rows per block (the last block may have fewer). */
  BLOCK_ROWS: 15,
  /** Chunks per block. */
  CHUNKS_PER_BLOCK: 16,
  /** Staging slots of A / of C (0 = used in place: block β at row β·BLOCK_ROWS). */
  A_SLOTS: 17,
  C_SLOTS: 18,
  /**
   * Columns per column strip (0: row blocks). With strips, block β is C's columns
   * [β·STRIP_COLS, min(n, (β+1)·STRIP_COLS)) over all m rows: the product of all of A (at a)
   * with those columns' panels of B (b + β·STRIP_COLS·k·4) plus bias (bias + β·STRIP_COLS·4),
   * n' = that width, written to slot s = β mod C_SLOTS at c + s·C_SLOT_BYTES (row stride n').
   */
  STRIP_COLS: 19,
  /** The kernel's panel width (columns per panel). */
  NR: 20,
  /** With strips: bytes from C slot 0 (at c) to slot 1, as an int32 (slots may lie anywhere). */
  C_SLOT_BYTES: 21,
  /** Blocks whose inputs are in place (Atomics.wait/notify on this slot); on its own cache line. */
  READY: 32,
  /** The job's kind, a {@link JOB_KIND}; the row-job slots below are only read for ROWS. */
  KIND: 48,
  /** Row job: the kernel's id (≥ 1, fixed for its module bytes and export). */
  ROW_KERNEL: 49,
  /** Row job: byte address and length of the kernel's module bytes in the shared memory. */
  ROW_KERNEL_BYTES: 50,
  ROW_KERNEL_LENGTH: 51,
  /** Row job: index of the kernel function among the module's exports. */
  ROW_KERNEL_EXPORT: 52,
  ROWS: 53,
  ROW_CHUNK_ROWS: 54,
  ROW_JOB_CHUNKS: 55,
  /** Row job: which argument is the row count. */
  ROW_COUNT_ARG: 56,
  ROW_ARG_COUNT: 57,
  /** Row job: the argument that is the running thread's scratch address (control[SCRATCH]), or −1. */
  ROW_SCRATCH_ARG: 58,
  /** Row job: the arguments for all rows (int32s), at ROW_ARGS..ROW_ARGS+MAX_ROW_ARGS−1. */
  ROW_ARGS: 64,
  /** Row job: bytes per row added to each argument, at ROW_STRIDES..ROW_STRIDES+MAX_ROW_ARGS−1. */
  ROW_STRIDES: 80,
} as const;

/** Arguments a row kernel function may take. */
export const MAX_ROW_ARGS = 12;

/** Int32s in the job block. */
export const JOB_INTS = 96;

/** Values of job[KIND]. */
export const JOB_KIND = {
  GEMM: 0,
  ROWS: 1,
} as const;

/** Values of control[STATE]. */
export const WORKER_STATE = {
  IDLE: 0,
  POSTED: 1,
  RUNNING: 2,
  DONE: 3,
  QUIT: 4,
} as const;

/** Data the pool passes to each worker. */
export interface GemmWorkerData {
  /** The GEMM module bytes (generated with sharedMemory: true and the pool's kernel options). */
  readonly bytes: Uint8Array;
  /** The shared WebAssembly.Memory all threads work in. */
  readonly memory: unknown;
  /** The pool's job block. */
  readonly job: SharedArrayBuffer;
  /** This worker's control block. */
  readonly control: SharedArrayBuffer;
}

const { STATE, READY, ERROR, CHUNKS, SCRATCH } = CONTROL;
const { ROWS } = JOB_KIND;
const { POSTED, RUNNING, DONE, QUIT } = WORKER_STATE;
const J = JOB;

/** The worker script (plain JavaScript, valid both as a CommonJS script and as an ES module). */
export const GEMM_WORKER_SOURCE = `"use strict";
(async () => {
  const { workerData } = await import("node:worker_threads");
  const control = new Int32Array(workerData.control);
  const job = new Int32Array(workerData.job);
  let gemmRange;
  try {
    const module = new WebAssembly.Module(workerData.bytes);
    gemmRange = new WebAssembly.Instance(module, { env: { memory: workerData.memory } }).exports.gemmRange;
  } catch (error) {
    Atomics.store(control, ${READY}, -1);
    Atomics.notify(control, ${READY});
    return;
  }
  Atomics.store(control, ${READY}, 1);
  Atomics.notify(control, ${READY});
  // Row kernels by id: the kernel function, or null when this thread could not instantiate it.
  const rowKernels = new Map();
  const rowKernel = () => {
    const id = job[${J.ROW_KERNEL}];
    let kernel = rowKernels.get(id);
    if (kernel === undefined) {
      kernel = null;
      try {
        const length = job[${J.ROW_KERNEL_LENGTH}];
        const bytes = new Uint8Array(length);
        bytes.set(new Uint8Array(workerData.memory.buffer, job[${J.ROW_KERNEL_BYTES}] >>> 0, length));
        const module = new WebAssembly.Module(bytes);
        const name = WebAssembly.Module.exports(module)[job[${J.ROW_KERNEL_EXPORT}]].name;
        const instance = new WebAssembly.Instance(module, { env: { memory: workerData.memory } });
        if (typeof instance.exports[name] === "function") kernel = instance.exports[name];
      } catch (error) {
        kernel = null;
      }
      rowKernels.set(id, kernel);
    }
    return kernel;
  };
  // Takes chunks of the posted row job until none are left; returns [chunks run, failed]. Never throws.
  const runRows = () => {
    let ran = 0;
    let failed = 0;
    try {
      const kernel = rowKernel();
      if (kernel === null) return [0, 0];
      const rows = job[${J.ROWS}], chunkRows = job[${J.ROW_CHUNK_ROWS}], chunks = job[${J.ROW_JOB_CHUNKS}];
      const countArg = job[${J.ROW_COUNT_ARG}], argCount = job[${J.ROW_ARG_COUNT}];
      const base = Array.from(job.subarray(${J.ROW_ARGS}, ${J.ROW_ARGS} + argCount));
      const strides = Array.from(job.subarray(${J.ROW_STRIDES}, ${J.ROW_STRIDES} + argCount));
      const scratchArg = job[${J.ROW_SCRATCH_ARG}];
      if (scratchArg >= 0) base[scratchArg] = control[${SCRATCH}];
      const args = base.slice();
      for (;;) {
        const chunk = Atomics.add(job, ${J.NEXT}, 1);
        if (chunk >= chunks) break;
        const r0 = chunk * chunkRows;
        // int32 arithmetic: addresses above 2 GiB wrap to the same i32 bits as the main thread's.
        for (let i = 0; i < argCount; i++) args[i] = (base[i] + r0 * strides[i]) | 0;
        args[countArg] = Math.min(rows, r0 + chunkRows) - r0;
        try {
          kernel(...args);
          ran++;
        } catch (error) {
          failed = 1; // a trap: keep going, the main thread reports the job as failed
        }
      }
    } catch (error) {
      failed = 1;
    }
    return [ran, failed];
  };
  for (;;) {
    const state = Atomics.load(control, ${STATE});
    if (state === ${POSTED}) {
      if (Atomics.compareExchange(control, ${STATE}, ${POSTED}, ${RUNNING}) !== ${POSTED}) continue;
      let failed = 0;
      let ran = 0;
      if (job[${J.KIND}] === ${ROWS}) [ran, failed] = runRows();
      else try {
        // Addresses travel as int32s: read them back unsigned (memories above 2 GiB).
        const a = job[${J.ARGS}] >>> 0, b = job[${J.ARGS + 1}] >>> 0, c = job[${J.ARGS + 2}] >>> 0, bias = job[${J.ARGS + 3}] >>> 0;
        const m = job[${J.ARGS + 4}], n = job[${J.ARGS + 5}], k = job[${J.ARGS + 6}], gemmFlags = job[${J.ARGS + 7}];
        const chunkRows = job[${J.CHUNK_ROWS}], rowChunks = job[${J.ROW_CHUNKS}];
        const groupPanels = job[${J.GROUP_PANELS}], panels = job[${J.PANELS}], chunks = job[${J.CHUNKS}];
        const blockRows = job[${J.BLOCK_ROWS}], perBlock = job[${J.CHUNKS_PER_BLOCK}];
        const aSlots = job[${J.A_SLOTS}], cSlots = job[${J.C_SLOTS}];
        const strip = job[${J.STRIP_COLS}], nr = job[${J.NR}], slotBytes = job[${J.C_SLOT_BYTES}];
        const scratch = control[${SCRATCH}];
        const flagsPtr = job[${J.CHUNK_FLAGS}] >>> 0;
        const flags = flagsPtr === 0 ? null : new Int32Array(workerData.memory.buffer, flagsPtr, chunks);
        for (;;) {
          const chunk = Atomics.add(job, ${J.NEXT}, 1);
          if (chunk >= chunks) break;
          const block = Math.floor(chunk / perBlock);
          for (let ready = Atomics.load(job, ${J.READY}); ready <= block; ready = Atomics.load(job, ${J.READY})) {
            Atomics.wait(job, ${J.READY}, ready);
          }
          const l = chunk - block * perBlock;
          const g = Math.floor(l / rowChunks);
          const m0 = (l - g * rowChunks) * chunkRows;
          const p0 = g * groupPanels;
          let mb = m, nb = n, pb = panels, aBlock = a, bBlock = b, cBlock, biasBlock = bias;
          if (strip === 0) {
            mb = Math.min(blockRows, m - block * blockRows);
            aBlock = a + (aSlots === 0 ? block : block % aSlots) * blockRows * k * 4;
            cBlock = c + (cSlots === 0 ? block : block % cSlots) * blockRows * n * 4;
          } else {
            const j0 = block * strip;
            nb = Math.min(strip, n - j0);
            pb = Math.ceil(nb / nr);
            bBlock = b + j0 * k * 4;
            biasBlock = bias === 0 ? 0 : bias + j0 * 4;
            cBlock = (c + (block % cSlots) * slotBytes) >>> 0;
          }
          let status = 1;
          try {
            if (m0 < mb && p0 < pb) {
              gemmRange(aBlock, bBlock, cBlock, biasBlock, mb, nb, k, gemmFlags, scratch, chunkRows, m0, Math.min(mb, m0 + chunkRows), p0, Math.min(pb, p0 + groupPanels));
              ran++;
            }
          } catch (error) {
            failed = 1;
            status = 2;
          }
          if (flags !== null) {
            Atomics.store(flags, chunk, status);
            Atomics.notify(flags, chunk);
          }
        }
      } catch (error) {
        failed = 1; // never leave the main thread waiting for a worker that died
      }
      control[${CHUNKS}] += ran;
      Atomics.store(control, ${ERROR}, failed);
      Atomics.store(control, ${STATE}, ${DONE});
      Atomics.notify(control, ${STATE});
    } else if (state === ${QUIT}) {
      return;
    } else {
      Atomics.wait(control, ${STATE}, state);
    }
  }
})();
`;
