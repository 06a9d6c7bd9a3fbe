/**
 * Row jobs on the worker pool (WasmThreadPool.rowKernel / runRows), through the log-sum-exp that
 * splits its rows over the threads (createPoolLogSumExp) and the gelu that splits its elements
 * (createPoolGelu, in place or into another view; other arrays go to the fallback): bit-identical to the single-threaded
 * kernel on the same memory for 1..3 threads and ragged row counts (1 row, fewer rows than
 * threads, odd counts), work really done by the workers, small jobs kept on the main thread, and
 * errors — a trapping kernel, a closed pool, foreign kernels, bad layouts — as typed errors that
 * leave the pool usable (no hang).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Gpt2LensError, InputError } from "../../../../src/errors.ts";
import { generateLogSumExpModule } from "../../../../src/backend/wasm/kernels/logsumexp-kernel.ts";
import { WasmThreadPool, type WasmThreadPoolOptions } from "../../../../src/backend/wasm/threads/node-wasm-thread-pool.ts";
import { createPoolGelu } from "../../../../src/backend/wasm/threads/pool-gelu.ts";
import { createPoolLogSumExp } from "../../../../src/backend/wasm/threads/pool-logsumexp.ts";
import { rowChunkPlan } from "../../../../src/backend/wasm/threads/pool-row-jobs.ts";
import { createWasmGelu, type WasmGelu } from "../../../../src/backend/wasm/wasm-gelu.ts";
import { firstBitDifference } from "../../../helpers/compare.ts";
import { createLogSumExpInMemory, LOG_SUM_EXP_TAIL_PAD, type LogSumExpInMemory } from "../../../../src/backend/wasm/wasm-logsumexp.ts";
import { propertyParams } from "../../../helpers/property.ts";

const pools: WasmThreadPool[] = [];
function mustPool(options: WasmThreadPoolOptions): WasmThreadPool {
  const pool = WasmThreadPool.create(options);
  if (pool === null) throw new Error("WasmThreadPool.create() returned null");
  pools.push(pool);
  expect(pool.waitUntilReady(60_000)).toBe(true);
  return pool;
}

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

/** Rows (followed by the kernel's tail pad) and room for their stats, in the pool's memory. */
function inMemory(pool: WasmThreadPool, values: Float32Array): { rows: Float32Array; stats: Float64Array } {
  const rows = pool.allocView(values.length + LOG_SUM_EXP_TAIL_PAD / 4).view.subarray(0, values.length);
  rows.set(values);
  const room = pool.allocView(4 * Math.max(values.length, 1) + 2).view;
  const statsByte = Math.ceil(room.byteOffset / 8) * 8;
  return { rows, stats: new Float64Array(room.buffer, statsByte, 2 * values.length) };
}

/** Logits-like values with occasional −∞, +∞ and NaN. */
const rowsArb = fc
  .tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 70 }))
  .chain(([rows, cols]) =>
    fc.record({
      rows: fc.constant(rows),
      cols: fc.constant(cols),
      values: fc.array(
        fc.oneof(
          { weight: 20, arbitrary: fc.float({ min: -90, max: 90, noNaN: true }) },
          { weight: 1, arbitrary: fc.constantFrom(-Infinity, Infinity, Number.NaN) },
        ),
        { minLength: rows * cols, maxLength: rows * cols },
      ),
    }),
  );

describe.each([1, 2, 3])("row jobs on a pool of %i thread(s)", (threads) => {
  let pool: WasmThreadPool;
  let parallel: LogSumExpInMemory;
  let single: LogSumExpInMemory;
  let gelu: WasmGelu;
  let singleGelu: WasmGelu;
  const fallbackCalls: number[] = [];

  beforeAll(() => {
    // minParallelRowWork 0: every job with ≥ 2 rows is split across the threads.
    pool = mustPool({ threads, minParallelRowWork: 0 });
    parallel = createPoolLogSumExp(pool);
    single = createLogSumExpInMemory(pool.memory)!;
    singleGelu = createWasmGelu()!;
    gelu = createPoolGelu(pool, (x, out) => {
      fallbackCalls.push(x.length);
      singleGelu(x, out);
    });
  });

  /** gelu of `values` on the pool, in place and into another view, vs the single-threaded kernel. */
  function expectSameGelu(values: Float32Array): void {
    const want = new Float32Array(values.length);
    singleGelu(values, want);
    const inPlace = pool.allocView(values.length).view;
    inPlace.set(values);
    gelu(inPlace, inPlace);
    const src = pool.allocView(values.length).view;
    const dst = pool.allocView(values.length).view;
    src.set(values);
    gelu(src, dst);
    for (let i = 0; i < values.length; i++) {
      if (!Object.is(inPlace[i], want[i]) || !Object.is(dst[i], want[i])) expect.fail(`[${i}] of ${values.length}: ${inPlace[i]}, ${dst[i]} vs ${want[i]}`);
    }
    expect(Array.from(src)).toEqual(Array.from(values));
  }

  /** `lse` (default: the log-sum-exp on `pool`) on rows in `on`'s memory vs the single-threaded kernel. */
  function expectSame(values: Float32Array, rows: number, cols: number, on = pool, lse = parallel): void {
    const a = inMemory(on, values);
    const b = inMemory(pool, values);
    const got = lse(a.rows, rows, cols, a.stats);
    const want = single(b.rows, rows, cols, b.stats);
    for (let r = 0; r < rows; r++) {
      if (!Object.is(got[r], want[r])) expect.fail(`row ${r} of ${rows}×${cols}: ${got[r]} vs ${want[r]}`);
      if (!Object.is(a.stats[2 * r], b.stats[2 * r]) || !Object.is(a.stats[2 * r + 1], b.stats[2 * r + 1])) {
        expect.fail(`row ${r} of ${rows}×${cols}: stats differ`);
      }
    }
  }

  it("equals the single-threaded kernel bit for bit on random rows", () => {
    fc.assert(
      fc.property(rowsArb, ({ rows, cols, values }) => expectSame(Float32Array.from(values), rows, cols)),
      propertyParams(`log-sum-exp ${threads}`, 60),
    );
  });

  it("equals it on ragged row counts: 1 row, fewer rows than threads, odd counts, GPT-2-wide rows", () => {
    let seed = 1;
    for (const rows of [1, 2, 3, 5, 7, 13, 49]) {
      for (const cols of [1, 3, 64, 1001]) {
        const values = Float32Array.from({ length: rows * cols }, () => Math.sin(seed++) * 30);
        expectSame(values, rows, cols);
      }
    }
    expectSame(Float32Array.from({ length: 9 * 50257 }, (_, i) => Math.sin(i) * 20), 9, 50257);
  });

  it("computes gelu bit-identically on views of the memory: in place, apart, any length (partial last vector)", () => {
    fallbackCalls.length = 0;
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 30, arbitrary: fc.float({ min: -30, max: 30 }) }, { weight: 1, arbitrary: fc.constantFrom(-Infinity, Infinity, Number.NaN) }), { maxLength: 300 }),
        (values) => expectSameGelu(Float32Array.from(values)),
      ),
      propertyParams(`gelu ${threads}`, 60),
    );
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 4 * 3072 + 3]) expectSameGelu(Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 6));
    expect(fallbackCalls).toEqual([]);
  });

  it("leaves gelu on plain arrays and partly overlapping views to the fallback", () => {
    fallbackCalls.length = 0;
    const values = Float32Array.from({ length: 37 }, (_, i) => i / 4 - 4);
    const want = new Float32Array(37);
    singleGelu(values, want);
    const out = new Float32Array(37);
    gelu(values, out);
    expect(Array.from(out)).toEqual(Array.from(want));
    const view = pool.allocView(38).view;
    view.set(values);
    gelu(view.subarray(0, 37), view.subarray(1, 38));
    expect(Array.from(view.subarray(1))).toEqual(Array.from(want));
    expect(fallbackCalls).toEqual([37, 37]);
    expect(() => gelu(view.subarray(0, 3), view.subarray(0, 4))).toThrow(InputError);
  });

  it("stages large plain arrays through the memory and computes them on the pool, bit-identically", () => {
    fallbackCalls.length = 0;
    const n = 2 * (1 << 20) + 5;
    const values = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 8);
    const want = new Float32Array(n);
    singleGelu(values, want);
    const out = new Float32Array(n);
    gelu(values, out);
    expect(firstBitDifference(out, want)).toBe(-1);
    gelu(values, values);
    expect(firstBitDifference(values, want)).toBe(-1);
    expect(fallbackCalls).toEqual([]);
  });

  it.skipIf(threads === 1)("computes every chunk bit-identically on the workers", () => {
    // Which thread takes a chunk is a race; testSchedule "workers" gives them all to the workers.
    const onWorkers = mustPool({ threads, minParallelRowWork: 0, testSchedule: "workers" });
    const [rows, cols] = [64, 4096];
    const before = onWorkers.workerChunks;
    expectSame(Float32Array.from({ length: rows * cols }, (_, i) => Math.cos(i) * 30), rows, cols, onWorkers, createPoolLogSumExp(onWorkers));
    expect(onWorkers.workerChunks - before).toBe(rowChunkPlan(rows, threads).chunks);
  });

  it("reports a trapping kernel as a typed error, in whichever thread it traps, and stays usable", () => {
    const kernel = pool.rowKernel(generateLogSumExpModule({ sharedMemory: true }), "rowStats");
    const rows = 12;
    const cols = 8;
    const { rows: values } = inMemory(pool, new Float32Array(rows * cols).fill(1));
    // Stats of the first 5 rows fit below the end of the memory; the later rows' stores trap.
    const out = pool.memory.buffer.byteLength - 5 * 16;
    for (let attempt = 0; attempt < 5; attempt++) {
      let caught: unknown;
      try {
        pool.runRows(kernel, rows, [values.byteOffset, rows, cols, out], { countArg: 1, rowStrides: [4 * cols, 0, 0, 16], workPerRow: cols });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(Gpt2LensError);
      expect((caught as Gpt2LensError).code).toBe("kernel_failed");
    }
    expectSame(Float32Array.from({ length: 7 * 33 }, (_, i) => i % 17), 7, 33);
  });
});

describe("row jobs: thresholds and errors", () => {
  it("keeps jobs below minParallelRowWork on the main thread", () => {
    const pool = mustPool({ threads: 2 });
    expect(pool.minParallelRowWork).toBe(1 << 18);
    const lse = createPoolLogSumExp(pool);
    const { rows, stats } = inMemory(pool, new Float32Array(30 * 100).fill(0.5));
    const before = pool.workerChunks;
    for (let i = 0; i < 20; i++) lse(rows, 30, 100, stats);
    expect(pool.workerChunks).toBe(before);
    expect(stats[1]).toBe(100);
  });

  it("works on rows above 2 GiB (addresses as unsigned int32s)", () => {
    const pool = mustPool({ threads: 2, minParallelRowWork: 0 });
    // 2 GiB of untouched (so not resident) memory first: everything allocated next lies above it.
    pool.gemm.alloc(2 ** 29);
    const values = Float32Array.from({ length: 9 * 41 }, (_, i) => Math.cos(i) * 7);
    const a = inMemory(pool, values);
    const b = inMemory(pool, values);
    expect(a.rows.byteOffset).toBeGreaterThan(2 ** 31);
    const got = createPoolLogSumExp(pool)(a.rows, 9, 41, a.stats);
    expect(Array.from(got)).toEqual(Array.from(createLogSumExpInMemory(pool.memory)!(b.rows, 9, 41, b.stats)));
    const x = pool.allocView(4 * 1000 + 3).view;
    x.set(Float32Array.from({ length: x.length }, (_, i) => Math.sin(i) * 5));
    const want = new Float32Array(x.length);
    createWasmGelu()!(x, want);
    createPoolGelu(pool, () => expect.fail("fell back"))(x, x);
    expect(Array.from(x)).toEqual(Array.from(want));
  });

  it("rejects foreign kernels, bad layouts, missing exports and use after close", async () => {
    const pool = mustPool({ threads: 2, minParallelRowWork: 0 });
    const other = mustPool({ threads: 1 });
    const bytes = generateLogSumExpModule({ sharedMemory: true });
    const foreign = other.rowKernel(bytes, "rowStats");
    const kernel = pool.rowKernel(bytes, "rowStats");
    const layout = { countArg: 1, rowStrides: [4, 0, 0, 16], workPerRow: 1 };
    expect(() => pool.runRows(foreign, 2, [0, 2, 1, 64], layout)).toThrow(/not a row kernel of this pool/);
    expect(() => pool.rowKernel(bytes, "noSuchFunction")).toThrow(InputError);
    expect(() => pool.runRows(kernel, 2, [0, 2, 1], layout)).toThrow(InputError);
    expect(() => pool.runRows(kernel, 2, [0, 2, 1, 64], { ...layout, countArg: 4 })).toThrow(InputError);
    expect(() => pool.runRows(kernel, -1, [0, 2, 1, 64], layout)).toThrow(InputError);
    expect(() => pool.runRows(kernel, 2, [0.5, 2, 1, 64], layout)).toThrow(InputError);
    // Scratch: not the count, not a per-row argument, a positive size.
    expect(() => pool.runRows(kernel, 2, [0, 2, 1, 64], { ...layout, scratch: { arg: 1, bytes: 64 } })).toThrow(InputError);
    expect(() => pool.runRows(kernel, 2, [0, 2, 1, 64], { ...layout, scratch: { arg: 0, bytes: 64 } })).toThrow(InputError);
    expect(() => pool.runRows(kernel, 2, [0, 2, 1, 64], { ...layout, scratch: { arg: 2, bytes: 0 } })).toThrow(InputError);
    const lse = createPoolLogSumExp(pool);
    const { rows, stats } = inMemory(pool, new Float32Array(6).fill(2));
    await pool.close();
    expect(() => pool.runRows(kernel, 2, [rows.byteOffset, 2, 3, stats.byteOffset], layout)).toThrow(/closed/);
    expect(() => lse(rows, 2, 3, stats)).toThrow(InputError);
    expect(() => pool.rowKernel(bytes, "rowStats")).toThrow(/closed/);
  });
});
