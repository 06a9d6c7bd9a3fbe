/**
 * The worker side of the GEMM pool (node-gemm-pool.ts), and the control-block protocol both sides
 * share.
 *
 * The worker is not a file: it is the self-contained script {@link GEMM_WORKER_SOURCE}, started with
 * `new Worker(GEMM_WORKER_SOURCE, { eval: true, workerData })`. That sidesteps resolving a worker
 * entry file, which differs between dist/ (compiled .js), Deno running src/*.ts directly, and vitest
 * (vite transpiles .ts, but a Node 20 worker_threads Worker cannot load .ts), and it runs the same
 * in Node (evaluated as a CommonJS script) and Deno (evaluated as an ES module): the script uses
 * only `import("node:worker_threads")`, WebAssembly and Atomics.
 *
 * workerData: `{ bytes, memory, control }` — the generated GEMM module bytes (compiled for a shared
 * memory), the pool's shared WebAssembly.Memory, and this worker's control block (a
 * SharedArrayBuffer of {@link CONTROL_INTS} int32s).
 *
 * Protocol (no message per operation). `control[STATE]` drives everything:
 *   IDLE/DONE → the worker sleeps in Atomics.wait(control, STATE, state).
 *   The main thread writes a job (JOB_* slots), stores POSTED and notifies.
 *   The worker claims the job with compareExchange(POSTED → RUNNING), runs `gemmRange`, stores
 *   ERROR (0/1), then DONE, and notifies; the main thread waits for DONE.
 *   A main thread that gives up on a job nobody claimed takes it back with compareExchange
 *   (POSTED → IDLE) — exactly one side ever runs a job.
 *   QUIT makes the worker's loop return; with nothing else scheduled the worker then exits.
 * `control[READY]` is 0 while starting, 1 once the kernel is instantiated, -1 if that failed.
 */

/** Int32 slots of a control block. */
export const CONTROL = {
  STATE: 0,
  READY: 1,
  ERROR: 2,
  /** gemmRange arguments a, b, c, bias, m, n, k, flags, scratch, m0, m1, p0, p1 (13 slots). */
  JOB: 4,
} as const;

/** Int32s per control block (128 bytes: the job plus padding to a cache-line multiple). */
export const CONTROL_INTS = 32;

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
  /** This worker's control block. */
  readonly control: SharedArrayBuffer;
}

const { STATE, READY, ERROR, JOB } = CONTROL;
const { POSTED, RUNNING, DONE, QUIT } = WORKER_STATE;

/** The worker script (plain JavaScript, valid both as a CommonJS script and as an ES module). */
export const GEMM_WORKER_SOURCE = `"use strict";
(async () => {
  const { workerData } = await import("node:worker_threads");
  const control = new Int32Array(workerData.control);
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
  const j = ${JOB};
  for (;;) {
    const state = Atomics.load(control, ${STATE});
    if (state === ${POSTED}) {
      if (Atomics.compareExchange(control, ${STATE}, ${POSTED}, ${RUNNING}) !== ${POSTED}) continue;
      let failed = 0;
      try {
        gemmRange(
          control[j], control[j + 1], control[j + 2], control[j + 3], control[j + 4], control[j + 5], control[j + 6],
          control[j + 7], control[j + 8], control[j + 9], control[j + 10], control[j + 11], control[j + 12],
        );
      } catch (error) {
        failed = 1;
      }
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
