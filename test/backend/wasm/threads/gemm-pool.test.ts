/**
 * The worker-pool GEMM (WasmThreadPool / createParallelWasmBackend) against the single-threaded
 * WasmGemm (bit-for-bit: every output element is computed by the same operations however the work
 * is split) and the plain-TS reference; panel and row splits, remainders, bias, accumulate,
 * transposed packing, in-place views, memory growth between calls, threads=1, pool reuse, and that a
 * process which never closes its pool (after a GEMM and a row job) still exits (Node on a private
 * tsc build, Deno on src/). Row jobs themselves: pool-row-jobs.test.ts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Gpt2LensError, InputError } from "../../../../src/errors.ts";
import { createWasmBackend } from "../../../../src/backend/wasm/wasm-backend.ts";
import { parseBackendChoice } from "../../../../src/backend/choice.ts";
import { rowBlockRows } from "../../../../src/backend/wasm/kernels/gemm-kernel.ts";
import { WasmThreadPool, type WasmThreadPoolOptions } from "../../../../src/backend/wasm/threads/node-wasm-thread-pool.ts";
import { createParallelWasmBackend } from "../../../../src/backend/wasm/threads/node-parallel-backend.ts";
import { matmulReference } from "../../../helpers/reference-matmul.ts";
import { WasmGemm } from "../../../../src/backend/wasm/gemm/wasm-gemm.ts";
import { firstBitDifference } from "../../../helpers/compare.ts";
import { type Case, caseArb, caseOperands, data, relErr, transpose } from "../../../helpers/gemm.ts";
import { propertyParams } from "../../../helpers/property.ts";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/** Records the n (a strip's width, or all n) of every chunk the main thread runs on `pool`. */
function recordMainThreadChunks(pool: WasmThreadPool): number[] {
  const widths: number[] = [];
  const exports = pool.gemm.exports;
  (pool.gemm as { exports: unknown }).exports = { ...exports, gemmRange: (...args: Parameters<typeof exports.gemmRange>) => {
    widths.push(args[5]);
    exports.gemmRange(...args);
  } };
  return widths;
}

const pools: WasmThreadPool[] = [];
function mustPool(options: WasmThreadPoolOptions): WasmThreadPool {
  const pool = WasmThreadPool.create(options);
  if (pool === null) throw new Error("WasmThreadPool.create() returned null");
  pools.push(pool);
  return pool;
}

/** The single-threaded kernels to compare with: default tiling, and row blocks of 8 (mc = 8). */
let single: WasmGemm;
let singleMc8: WasmGemm;
let pool2: WasmThreadPool;
let pool3: WasmThreadPool;

beforeAll(() => {
  single = WasmGemm.create()!;
  singleMc8 = WasmGemm.create({ kernel: { mc: 8 } })!;
  // minParallelFlops 0: every product, however small, is split across the threads; chunks of
  // one panel group × up to 48 rows (default, for these small products) or 8 rows (pool3), panel
  // groups down to one panel.
  pool2 = mustPool({ threads: 2, minParallelFlops: 0, minChunkPanels: 1 });
  pool3 = mustPool({ threads: 3, minParallelFlops: 0, minChunkPanels: 1, kernel: { mc: 8 } });
  expect(pool2.waitUntilReady(60_000)).toBe(true);
  expect(pool3.waitUntilReady(60_000)).toBe(true);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

/** Runs a case on the pool, the single-threaded kernel and the reference; checks all three. */
function checkCase(pool: WasmThreadPool, c: Case, ref = pool === pool3 ? singleMc8 : single): void {
  const { a, b, bias, initial, expected, scale } = caseOperands(c);

  const bt = c.transposed ? transpose(b, c.k, c.n) : b;
  const packedPool = c.transposed ? pool.packTransposed(bt, c.n, c.k) : pool.pack(b, c.k, c.n);
  const packedSingle = c.transposed ? ref.packTransposed(bt, c.n, c.k) : ref.pack(b, c.k, c.n);
  const fresh = (): Float32Array => (c.accumulate ? initial.slice() : new Float32Array(c.m * c.n).fill(Number.NaN));
  const outPool = fresh();
  const outSingle = fresh();
  pool.matmul(a, c.m, packedPool, outPool, bias, c.accumulate);
  ref.matmul(a, c.m, packedSingle, outSingle, bias, c.accumulate);
  pool.free(packedPool);
  ref.free(packedSingle.buffer);

  expect(firstBitDifference(outPool, outSingle), JSON.stringify(c)).toBe(-1);
  expect(relErr(outPool, expected, scale), JSON.stringify(c)).toBeLessThan(1e-5);
}

describe("WasmThreadPool", () => {
  it("starts its workers", () => {
    expect(pool2.threads).toBe(2);
    expect(pool2.activeThreads).toBe(2);
    expect(pool3.activeThreads).toBe(3);
  });

  it("equals the single-threaded kernel bit for bit on random shapes (panel and row splits)", () => {
    fc.assert(fc.property(caseArb(90, 90, 90), (c) => checkCase(pool2, c)), propertyParams("random shapes pool2", 100));
    fc.assert(fc.property(caseArb(90, 90, 90), (c) => checkCase(pool3, c)), propertyParams("random shapes pool3", 100));
    // Few panels, many rows: mostly row chunks.
    fc.assert(fc.property(caseArb(300, 40, 24), (c) => checkCase(pool3, c)), propertyParams("row chunks pool3", 40));
  });

  it("computes every chunk bit-identically on the workers", () => {
    // Which thread takes a chunk is a race; testSchedule "workers" gives them all to the workers.
    const onWorkers = [
      mustPool({ threads: 2, minParallelFlops: 0, minChunkPanels: 1, testSchedule: "workers" }),
      mustPool({ threads: 3, minParallelFlops: 0, minChunkPanels: 1, kernel: { mc: 8 }, testSchedule: "workers" }),
    ];
    const mainThreadChunks = onWorkers.map((pool) => recordMainThreadChunks(pool));
    const [m, k, n] = [480, 256, 512];
    for (const [i, pool] of onWorkers.entries()) {
      expect(pool.waitUntilReady(60_000)).toBe(true);
      const before = pool.workerChunks;
      checkCase(pool, { m, k, n, seed: 1, bias: true, accumulate: false, transposed: false }, i === 0 ? single : singleMc8);
      checkCase(pool, { m, k, n, seed: 2, bias: false, accumulate: true, transposed: true }, i === 0 ? single : singleMc8);
      expect(pool.workerChunks).toBeGreaterThan(before);
      expect(mainThreadChunks[i]).toEqual([]);
    }
  });

  it("equals the single-threaded kernel on larger shapes (remainders in every dimension)", () => {
    const shapes: [number, number, number][] = [
      [130, 300, 257],
      [13, 768, 1001],
      [416, 64, 768],
      [517, 33, 9], // row split with a partial panel
      [3, 700, 2305],
      [49, 4200, 19], // k above the kernel's k block (4096)
    ];
    let seed = 11;
    for (const [m, k, n] of shapes) {
      for (const pool of [pool2, pool3]) {
        checkCase(pool, { m, k, n, seed: seed++, bias: seed % 2 === 0, accumulate: seed % 3 === 0, transposed: seed % 5 === 0 });
      }
    }
  });

  it("computes a product with a streamed B in large row chunks, bit-identical to small ones", () => {
    // 512×6144 floats of packed B = 12 MiB: chunks of 150 rows (rowBlockRows, multiples of the FMA
    // kernel's 6-row tile), staged or in place, and, in a 4 MiB staging budget, C staged in blocks of
    // fewer rows than that.
    const [m, k, n] = [300, 512, 6144];
    expect(rowBlockRows(pool2.gemm.layout, k, n, m)).toBe(150);
    const budget4 = mustPool({ threads: 2, minParallelFlops: 0, stagingBudgetBytes: 4 << 20 });
    expect(budget4.waitUntilReady(60_000)).toBe(true);
    const a = data(m * k, 31);
    const b = data(k * n, 32);
    const bias = data(n, 33);
    const initial = data(m * n, 34);
    const want = initial.slice();
    const packedSmall = singleMc8.pack(b, k, n);
    singleMc8.matmul(a, m, packedSmall, want, bias, true);
    singleMc8.free(packedSmall.buffer);
    for (let row = 0; row < m; row += 149) {
      const expected = initial.slice(row * n, (row + 1) * n);
      const product = new Float32Array(n);
      matmulReference(a.subarray(row * k, (row + 1) * k), 1, k, b, n, product, bias);
      for (let j = 0; j < n; j++) expected[j] += product[j];
      expect(relErr(want.subarray(row * n, (row + 1) * n), expected), `row ${row}`).toBeLessThan(1e-5);
    }
    for (const pool of [pool2, budget4]) {
      const packed = pool.pack(b, k, n);
      const got = initial.slice();
      pool.matmul(a, m, packed, got, bias, true);
      expect(firstBitDifference(got, want)).toBe(-1);
      if (pool === pool2) {
        const aBuf = pool.gemm.alloc(m * k);
        const outBuf = pool.gemm.alloc(m * n);
        aBuf.view().set(a);
        outBuf.view().set(initial);
        pool.matmul(aBuf.view(), m, packed, outBuf.view(), bias, true);
        expect(firstBitDifference(outBuf.view(), want)).toBe(-1);
        pool.gemm.free(outBuf);
        pool.gemm.free(aBuf);
      } else {
        expect(pool.stagingBytes).toBeLessThanOrEqual(4 << 20);
      }
      pool.free(packed);
    }
  });

  it("reuses the pool for matmuls in sequence and survives memory growth between them", () => {
    const k = 96;
    const n = 200;
    const m = 150;
    const packed = pool2.pack(data(k * n, 5), k, n);
    const ref = single.pack(data(k * n, 5), k, n);
    for (let round = 0; round < 5; round++) {
      const a = data(m * k, 100 + round);
      const got = new Float32Array(m * n);
      const want = new Float32Array(m * n);
      pool2.matmul(a, m, packed, got);
      single.matmul(a, m, ref, want);
      expect(firstBitDifference(got, want)).toBe(-1);
      // Grow the shared memory by ~8 MiB: the workers must keep working on the larger memory.
      pool2.gemm.alloc(2_000_000 + round);
    }
  });

  it("uses views of the shared memory in place, and stages overlapping ones", () => {
    const m = 64;
    const k = 48;
    const n = 72;
    const packed = pool2.pack(data(k * n, 9), k, n);
    const ref = single.pack(data(k * n, 9), k, n);
    const aBuf = pool2.gemm.alloc(m * k);
    const outBuf = pool2.gemm.alloc(m * n);
    const biasBuf = pool2.gemm.alloc(n);
    aBuf.view().set(data(m * k, 10));
    biasBuf.view().set(data(n, 11));
    outBuf.view().set(data(m * n, 12));
    const want = data(m * n, 12);
    single.matmul(aBuf.view().slice(), m, ref, want, biasBuf.view().slice(), true);
    pool2.matmul(aBuf.view(), m, packed, outBuf.view(), biasBuf.view(), true);
    expect(firstBitDifference(outBuf.view(), want)).toBe(-1);

    // a overlapping out (k = n so the shapes line up): a is copied before anything is written.
    const sq = 40;
    const p2 = pool2.pack(data(sq * sq, 13), sq, sq);
    const r2 = single.pack(data(sq * sq, 13), sq, sq);
    const buf = pool2.gemm.alloc(sq * sq);
    buf.view().set(data(sq * sq, 14));
    const want2 = new Float32Array(sq * sq);
    single.matmul(data(sq * sq, 14), sq, r2, want2);
    pool2.matmul(buf.view(), sq, p2, buf.view());
    expect(firstBitDifference(buf.view(), want2)).toBe(-1);
  });

  it("runs products larger than the staging budget in row blocks, bit-identical, within the budget", () => {
    // Budgets of 2 and 16 KiB: two staging slots of half the budget, blocks of a few rows; chunks
    // of the next block run while the main thread copies the previous one out.
    const small = [2048, 16384].map((stagingBudgetBytes) => mustPool({ threads: 3, minParallelFlops: 0, minChunkPanels: 1, stagingBudgetBytes }));
    const mc8 = mustPool({ threads: 2, minParallelFlops: 0, minChunkPanels: 1, kernel: { mc: 8 }, stagingBudgetBytes: 4096 });
    for (const pool of [...small, mc8]) expect(pool.waitUntilReady(60_000)).toBe(true);
    const within = (pool: WasmThreadPool, c: Case): void => {
      const minRows = Math.min(c.m, pool.gemm.layout.mr);
      expect(pool.stagingBytes, JSON.stringify(c)).toBeLessThanOrEqual(Math.max(pool.gemm.stagingBudgetBytes, 2 * 4 * minRows * (c.k + c.n) + 64));
    };
    const check = (pool: WasmThreadPool, c: Case): void => {
      checkCase(pool, c);
      within(pool, c);
    };
    for (const [i, pool] of small.entries()) fc.assert(fc.property(caseArb(150, 40, 60), (c) => check(pool, c)), propertyParams(`row blocks ${i}`, 40));
    fc.assert(fc.property(caseArb(150, 40, 60), (c) => check(mc8, c)), propertyParams("row blocks mc8", 40));
    // Many blocks with accumulate and bias, remainders everywhere; k above the kernel's k block.
    check(small[1], { m: 517, k: 61, n: 77, seed: 3, bias: true, accumulate: true, transposed: false });
    check(mc8, { m: 301, k: 37, n: 45, seed: 4, bias: true, accumulate: true, transposed: true });
    check(small[1], { m: 61, k: 4200, n: 9, seed: 5, bias: true, accumulate: true, transposed: false });
    // 16 KiB budget, 4·(40 + 24) bytes per row: slots of 32 rows (not a multiple of 48: of mr).
    check(small[1], { m: 300, k: 40, n: 24, seed: 6, bias: false, accumulate: false, transposed: false });
    expect(small[1].stagingBytes).toBe(16384);

    // Only C staged (a used in place) and only A staged (out in place).
    const pool = small[1];
    const [m, k, n] = [200, 30, 50];
    const a = data(m * k, 7);
    const b = data(k * n, 8);
    const bias = data(n, 9);
    const initial = data(m * n, 10);
    const want = initial.slice();
    single.matmul(a, m, single.pack(b, k, n), want, bias, true);
    const packed = pool.pack(b, k, n);
    const aBuf = pool.gemm.alloc(m * k);
    aBuf.view().set(a);
    const got = initial.slice();
    pool.matmul(aBuf.view(), m, packed, got, bias, true);
    expect(firstBitDifference(got, want)).toBe(-1);
    expect(pool.stagingBytes).toBeLessThanOrEqual(16384);
    const outBuf = pool.gemm.alloc(m * n);
    outBuf.view().set(initial);
    pool.matmul(a, m, packed, outBuf.view(), bias, true);
    expect(firstBitDifference(outBuf.view(), want)).toBe(-1);
    expect(pool.stagingBytes).toBeLessThanOrEqual(16384);
    pool.releaseStaging();
    expect(pool.stagingBytes).toBe(0);
  });

  it("stages a wide C in column strips of all rows through two slots, bit-identical to row blocks", () => {
    // 16 KiB budgets: C never fits whole. Strips of whole panels over all rows, two in flight while
    // the main thread copies finished chunks out (row chunks × panel groups of a strip with 3
    // threads and mc 8), A staged whole or in place, bias, accumulate, a narrower last strip.
    // Who takes each chunk is fixed (testSchedule): the main thread all on the first pool, so its
    // kernel calls show every strip; the workers all on the second.
    const budget = 16384;
    const strips = [mustPool({ threads: 2, minParallelFlops: 0, minChunkPanels: 1, stagingBudgetBytes: budget, testSchedule: "main" }),
      mustPool({ threads: 3, minParallelFlops: 0, minChunkPanels: 1, kernel: { mc: 8 }, stagingBudgetBytes: budget, testSchedule: "workers" })];
    const rows = mustPool({ threads: 2, minParallelFlops: 0, minChunkPanels: 1, stagingBudgetBytes: budget, columnStrips: false });
    for (const pool of [...strips, rows]) expect(pool.waitUntilReady(60_000)).toBe(true);
    const widths = recordMainThreadChunks(strips[0]);
    const run = (pool: WasmThreadPool, c: Case, aInPlace: boolean): Float32Array => {
      const { a, b, bias, initial } = caseOperands(c);
      const packed = c.transposed ? pool.packTransposed(transpose(b, c.k, c.n), c.n, c.k) : pool.pack(b, c.k, c.n);
      const aBuf = aInPlace ? pool.gemm.alloc(c.m * c.k) : undefined;
      aBuf?.view().set(a);
      const out = c.accumulate ? initial.slice() : new Float32Array(c.m * c.n).fill(Number.NaN);
      pool.matmul(aBuf?.view() ?? a, c.m, packed, out, bias, c.accumulate);
      if (aBuf) pool.gemm.free(aBuf);
      pool.free(packed);
      return out;
    };
    const check = (c: Case, aInPlace: boolean): void => {
      const { a, b, bias, initial } = caseOperands(c);
      const want = c.accumulate ? initial.slice() : new Float32Array(c.m * c.n);
      const packed = single.pack(b, c.k, c.n);
      single.matmul(a, c.m, packed, want, bias, c.accumulate);
      single.free(packed.buffer);
      expect(firstBitDifference(run(rows, c, aInPlace), want), JSON.stringify(c)).toBe(-1);
      for (const pool of strips) {
        expect(firstBitDifference(run(pool, c, aInPlace), want), JSON.stringify(c)).toBe(-1);
        expect(pool.stagingBytes).toBe(budget);
      }
    };
    const before = strips.map((pool) => pool.workerChunks);
    fc.assert(fc.property(caseArb(60, 40, 300), fc.boolean(), check), propertyParams("column strips", 40));
    // 50 rows, k 20, n 300 (38 panels of 4·50·8 = 1600 bytes) in two slots: A in place, 5 panels
    // fit each half of 16384 − 128 bytes → 8 strips of 5 panels (40 columns), the last 20 wide.
    widths.length = 0;
    check({ m: 50, k: 20, n: 300, seed: 3, bias: true, accumulate: true, transposed: false }, true);
    expect([...new Set(widths)]).toEqual([40, 20]);
    check({ m: 50, k: 20, n: 300, seed: 4, bias: true, accumulate: false, transposed: true }, false);
    expect(strips[0].workerChunks).toBe(before[0]);
    expect(strips[1].workerChunks).toBeGreaterThan(before[1]);
  });

  it("stages C through lent spare buffers instead of the arena, bit-identical", () => {
    // 20 rows × 4000 columns (500 panels) in a 16 KiB budget; spare buffers of 20 × 2100 floats
    // hold strips of 262 panels → 2 strips of 250 (2000 columns). With `a` in place and no bias
    // the arena is never touched. Spares that overlap `a`, or are too small, are not used.
    const pool = mustPool({ threads: 2, minParallelFlops: 0, minChunkPanels: 1, stagingBudgetBytes: 16384 });
    expect(pool.waitUntilReady(60_000)).toBe(true);
    const [m, k, n] = [20, 16, 4000];
    const b = data(k * n, 41);
    const initial = data(m * n, 42);
    const want = initial.slice();
    const ref = single.pack(b, k, n);
    single.matmul(data(m * k, 43), m, ref, want, undefined, true);
    single.free(ref.buffer);
    const packed = pool.pack(b, k, n);
    const aBuf = pool.allocView(m * k);
    aBuf.view.set(data(m * k, 43));
    const spares = [pool.allocView(m * 2100), pool.allocView(m * 2200), pool.allocView(m * 100)];
    for (const lent of [spares.map((s) => s.view), [spares[0]!.view, aBuf.view]]) {
      for (const s of spares) s.view.fill(Number.NaN);
      const got = initial.slice();
      pool.matmul(aBuf.view, m, packed, got, undefined, true, lent);
      expect(firstBitDifference(got, want)).toBe(-1);
      expect(pool.stagingBytes).toBe(lent.length === 3 ? 0 : 16384);
      expect(firstBitDifference(aBuf.view, data(m * k, 43))).toBe(-1);
      pool.releaseStaging();
    }
    pool.free(packed);
  });

  it("works with packed matrices, staging and chunk flags above 2 GiB (addresses as unsigned int32s)", () => {
    const pool = mustPool({ threads: 2, minParallelFlops: 0, minChunkPanels: 1, stagingBudgetBytes: 8192 });
    expect(pool.waitUntilReady(60_000)).toBe(true);
    // 2 GiB of untouched (so not resident) memory first: everything allocated next lies above it.
    pool.gemm.alloc(2 ** 29);
    for (let seed = 1; seed <= 3; seed++) {
      checkCase(pool, { m: 150, k: 20, n: 90, seed, bias: true, accumulate: seed === 2, transposed: seed === 3 });
    }
    expect(pool.gemm.heapTop).toBeGreaterThan(2 ** 31);
  });

  it("works with threads=1 (no workers)", () => {
    const pool1 = mustPool({ threads: 1, minParallelFlops: 0 });
    expect(pool1.threads).toBe(1);
    expect(pool1.activeThreads).toBe(1);
    expect(pool1.waitUntilReady(10)).toBe(true);
    fc.assert(fc.property(caseArb(50, 50, 50), (c) => checkCase(pool1, c)), propertyParams("threads=1", 30));
  });

  it("runs small products on the main thread by default and large ones split", () => {
    const pool = mustPool({ threads: 2 });
    expect(pool.minParallelFlops).toBe(4e6);
    expect(pool.waitUntilReady(60_000)).toBe(true);
    checkCase(pool, { m: 8, k: 16, n: 24, seed: 1, bias: true, accumulate: false, transposed: false });
    checkCase(pool, { m: 200, k: 160, n: 300, seed: 2, bias: true, accumulate: true, transposed: true });
  });

  it("rejects foreign or freed packed matrices, bad shapes, and use after close", async () => {
    const pool = mustPool({ threads: 2, minParallelFlops: 0 });
    const foreign = single.pack(data(12, 1), 3, 4);
    expect(() => pool.matmul(data(6, 2), 2, foreign, new Float32Array(8))).toThrow(InputError);
    const packed = pool.pack(data(12, 1), 3, 4);
    expect(() => pool.matmul(data(5, 2), 2, packed, new Float32Array(8))).toThrow(/a has 5 elements/);
    expect(() => pool.matmul(data(6, 2), 2, packed, new Float32Array(7))).toThrow(/out has 7 elements/);
    pool.free(packed);
    expect(() => pool.matmul(data(6, 2), 2, packed, new Float32Array(8))).toThrow(InputError);
    expect(() => pool.free(packed)).toThrow(InputError);
    const live = pool.pack(data(12, 1), 3, 4);
    await pool.close();
    await pool.close();
    expect(() => pool.matmul(data(6, 2), 2, live, new Float32Array(8))).toThrow(/closed/);
    expect(() => WasmThreadPool.create({ threads: 0 })).toThrow(InputError);
    expect(new Gpt2LensError("x", "y")).toBeInstanceOf(Error);
  });
});

describe("createParallelWasmBackend", () => {
  it.each([
    [true, "wasm-simd-fma×2", "wasm-simd-fma"],
    [false, "wasm-simd×2", "wasm-simd"],
  ])("matches the single-threaded wasm backend bit for bit (prepare, prepareTransposed, bias; FMA %s)", async (relaxedSimd, poolName, singleName) => {
    const backend = createParallelWasmBackend({ threads: 2, relaxedSimd })!;
    expect(backend).not.toBeNull();
    expect(backend.name).toBe(poolName);
    expect(backend.pool.waitUntilReady(60_000)).toBe(true);
    const wasm = createWasmBackend({ relaxedSimd })!;
    expect(wasm.name).toBe(singleName);
    const [m, d, dOut] = [52, 768, 2304];
    const w = data(d * dOut, 21);
    const bias = data(dOut, 22);
    const a = data(m * d, 23);
    for (const transposed of [false, true]) {
      const pw = transposed ? backend.prepareTransposed(transpose(w, d, dOut), dOut, d) : backend.prepare(w, d, dOut);
      const rw = transposed ? wasm.prepareTransposed(transpose(w, d, dOut), dOut, d) : wasm.prepare(w, d, dOut);
      const got = new Float32Array(m * dOut);
      const want = new Float32Array(m * dOut);
      backend.matmul(a, m, pw, got, bias);
      wasm.matmul(a, m, rw, want, bias);
      expect(firstBitDifference(got, want)).toBe(-1);
      expect(() => backend.matmul(a, m, rw, got, bias)).toThrow(InputError);
    }
    await backend.close();
  });

  it("is a backend choice", () => {
    expect(parseBackendChoice("wasm-threads")).toBe("wasm-threads");
    expect(() => parseBackendChoice("threads")).toThrow(/wasm-threads/);
  });
});

// ---- a process that never closes its pool still exits ----

const SCRIPT = (poolModule: string, logSumExpModule: string): string => `
import { WasmThreadPool } from ${JSON.stringify(poolModule)};
import { createPoolLogSumExp } from ${JSON.stringify(logSumExpModule)};
const pool = WasmThreadPool.create({ threads: 2, minParallelRowWork: 0 });
if (!pool.waitUntilReady(60_000)) throw new Error("workers did not start");
const m = 256, k = 256, n = 256;
const packed = pool.pack(new Float32Array(k * n).fill(1), k, n);
const out = new Float32Array(m * n);
pool.matmul(new Float32Array(m * k).fill(0.5), m, packed, out);
// A row job too: log Σ exp over rows of 128 zeros = log 128.
const rows = m * n / 128;
const values = pool.allocView(m * n + 4).view.subarray(0, m * n).fill(0);
const room = pool.allocView(4 * rows + 2).view;
const stats = new Float64Array(room.buffer, Math.ceil(room.byteOffset / 8) * 8, 2 * rows);
const lse = createPoolLogSumExp(pool)(values, rows, 128, stats);
console.log(JSON.stringify({ active: pool.activeThreads, value: out[m * n - 1], lse: Math.round(Math.exp(lse[lse.length - 1])) }));
`;

describe("process exit without close()", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "gemm-pool-exit-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // A worker that kept the process alive would never let it exit: the spawn's timeout catches that
  // (run.error), not a bound on the run time, which a loaded machine can stretch.
  function expectPromptExit(command: string, args: string[]): void {
    const run = spawnSync(command, args, { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" } });
    expect(run.error, run.stderr).toBeUndefined();
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split("\n").pop()!)).toEqual({ active: 2, value: 128, lse: 128 });
  }

  it("Node (compiled with tsc)", () => {
    const out = join(dir, "build");
    const tsc = spawnSync(process.execPath, [
      join(ROOT, "node_modules/typescript/bin/tsc"), join(ROOT, "src/backend/wasm/threads/node-wasm-thread-pool.ts"), join(ROOT, "src/backend/wasm/threads/pool-logsumexp.ts"),
      "--outDir", out, "--rootDir", join(ROOT, "src"), "--module", "nodenext", "--moduleResolution", "nodenext",
      "--target", "es2022", "--types", "node", "--strict", "--skipLibCheck",
      "--allowImportingTsExtensions", "--rewriteRelativeImportExtensions",
    ], { cwd: ROOT, encoding: "utf8" });
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    writeFileSync(join(out, "package.json"), '{"type":"module"}');
    const script = join(out, "exit-check.mjs");
    writeFileSync(script, SCRIPT("./backend/wasm/threads/node-wasm-thread-pool.js", "./backend/wasm/threads/pool-logsumexp.js"));
    expectPromptExit(process.execPath, [script]);
  });

  const DENO = join(ROOT, "node_modules/.bin/deno");
  it.skipIf(!existsSync(DENO))("Deno (TypeScript sources)", () => {
    const module = (name: string): string => new URL(`file://${join(ROOT, "src/backend/wasm/threads", name)}`).href;
    const file = join(dir, "exit-check.ts");
    writeFileSync(file, SCRIPT(module("node-wasm-thread-pool.ts"), module("pool-logsumexp.ts")));
    expectPromptExit(DENO, ["run", "-A", "--cached-only", "--no-lock", file]);
  });
});
