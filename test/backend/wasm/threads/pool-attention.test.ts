/**
 * The forward's attention on the worker pool (pool-attention.ts, pool-softmax.ts): scores, row
 * softmax and value mixing on views of the pool's shared memory, split over 1–3 threads by
 * (batch, head) plane or by row, bit-identical to the single-threaded kernels (WasmAttention,
 * createWasmSoftmaxRows) on random shapes — batch 1, odd d_head, keys ≠ pos (past keys) — and
 * within 1e-5 relative of the plain-TypeScript loops; −∞ exactly where masked; all-−∞ rows
 * reported; nothing read or written outside the operands (guards around them, rows ending at
 * the end of the memory); other operands left to the fallback.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { attentionScores, mixValues } from "../../../../src/gpt2/components/attention.ts";
import { Tensor } from "../../../../src/tensor/tensor.ts";
import { WasmThreadPool, type WasmThreadPoolOptions } from "../../../../src/backend/wasm/threads/node-wasm-thread-pool.ts";
import { createPoolAttention, type AttentionKernels } from "../../../../src/backend/wasm/threads/pool-attention.ts";
import { rowChunkPlan } from "../../../../src/backend/wasm/threads/pool-row-jobs.ts";
import { createPoolSoftmaxRows } from "../../../../src/backend/wasm/threads/pool-softmax.ts";
import { WasmAttention } from "../../../../src/backend/wasm/wasm-attention.ts";
import { createWasmSoftmaxRows, type WasmSoftmaxRows } from "../../../../src/backend/wasm/wasm-softmax.ts";
import { createParallelWasmBackend } from "../../../../src/backend/wasm/threads/node-parallel-backend.ts";
import { firstBitDifference } from "../../../helpers/compare.ts";
import { propertyParams } from "../../../helpers/property.ts";

const REL = 1e-5;
const GUARD = 8;

const pools: WasmThreadPool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

function mustPool(threads: number, testSchedule?: WasmThreadPoolOptions["testSchedule"]): WasmThreadPool {
  const pool = WasmThreadPool.create({ threads, minParallelRowWork: 0, testSchedule });
  if (pool === null) throw new Error("WasmThreadPool.create() returned null");
  pools.push(pool);
  expect(pool.waitUntilReady(60_000)).toBe(true);
  return pool;
}

const single = WasmAttention.create()!;
const singleSoftmax = createWasmSoftmaxRows()!;

/** `values` in the pool's memory between NaN guards (checked by {@link expectGuards}). */
function inMemory(pool: WasmThreadPool, values: Float32Array): Float32Array {
  const all = pool.allocView(values.length + 2 * GUARD).view;
  all.fill(Number.NaN);
  const view = all.subarray(GUARD, GUARD + values.length);
  view.set(values);
  return view;
}

function expectGuards(pool: WasmThreadPool, view: Float32Array): void {
  const all = new Float32Array(pool.memory.buffer, view.byteOffset - 4 * GUARD, view.length + 2 * GUARD);
  const guards = [...all.subarray(0, GUARD), ...all.subarray(GUARD + view.length)];
  expect(guards.every((g) => Number.isNaN(g)), "guards around an operand were written").toBe(true);
}

function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  const at = firstBitDifference(got, want);
  if (at !== -1) expect.fail(`${what}[${at}] = ${got[at]}, single-threaded ${want[at]}`);
}

/** xorshift32 in [0, 1). */
function rng(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

function values(n: number, next: () => number, pZero: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => (next() < pZero ? 0 : (next() * 2 - 1) * scale));
}

const shapeArb = fc.record({
  batch: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 4 })),
  pos: fc.integer({ min: 1, max: 20 }),
  extra: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6 })),
  nHeads: fc.integer({ min: 1, max: 4 }),
  dHead: fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(1, 3, 7, 8, 9, 17, 64, 65)),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  pZero: fc.constantFrom(0, 0.2, 1),
  scale: fc.constantFrom(1, 1e-3, 50),
});

/** |got − want| ≤ REL·(|want| + Σ|terms| bound given), and identical non-finite values. */
function expectClose(got: Float32Array, want: Float32Array, magnitude: (i: number) => number, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (!Number.isFinite(w) ? !Object.is(g, w) : !(Math.abs(g - w) <= REL * magnitude(i))) {
      expect.fail(`${what}[${i}] = ${g}, reference ${w}`);
    }
  }
}

describe.each([1, 2, 3])("attention on a pool of %i thread(s)", (threads) => {
  const pool = mustPool(threads);
  const fallbacks: string[] = [];
  const fallback: AttentionKernels = {
    attentionScores: (...args) => {
      fallbacks.push("scores");
      single.attentionScores(...args);
    },
    mixValues: (...args) => {
      fallbacks.push("mix");
      single.mixValues(...args);
    },
  };
  const pooled = createPoolAttention(pool, fallback);
  const softmax: WasmSoftmaxRows = createPoolSoftmaxRows(pool, (x, width, out) => {
    fallbacks.push("softmax");
    return singleSoftmax(x, width, out);
  });

  it("scores → softmax → mix equal the single-threaded kernels bit for bit and the TypeScript loops within 1e-5", () => {
    fallbacks.length = 0;
    fc.assert(
      fc.property(shapeArb, fc.boolean(), ({ batch, pos, extra, nHeads, dHead, seed, pZero, scale }, softmaxApart) => {
        const next = rng(seed);
        const keys = pos + extra;
        const d = nHeads * dHead;
        const qv = values(batch * pos * d, next, pZero, scale);
        const kv = values(batch * keys * d, next, pZero, scale);
        const vv = values(batch * keys * d, next, 0.1, scale);
        const q = inMemory(pool, qv), k = inMemory(pool, kv), v = inMemory(pool, vv);
        const scores = inMemory(pool, new Float32Array(batch * nHeads * pos * keys));
        pooled.attentionScores(q, k, batch, pos, keys, nHeads, dHead, scores);
        const wantScores = new Float32Array(scores.length);
        single.attentionScores(qv, kv, batch, pos, keys, nHeads, dHead, wantScores);
        expectSameBits(scores, wantScores, "scores");
        const qt = new Tensor(qv, [batch, pos, nHeads, dHead]), kt = new Tensor(kv, [batch, keys, nHeads, dHead]);
        const refScores = attentionScores(qt, kt).data;
        expectClose(scores, refScores, (i) => Math.abs(refScores[i]!) + scale * scale * dHead, "scores");

        const pattern = softmaxApart ? inMemory(pool, new Float32Array(scores.length)) : scores;
        expect(softmax(scores, keys, pattern)).toBe(true);
        const wantPattern = new Float32Array(scores.length);
        expect(singleSoftmax(wantScores, keys, wantPattern)).toBe(true);
        expectSameBits(pattern, wantPattern, "pattern");

        const z = inMemory(pool, new Float32Array(batch * pos * d));
        pooled.mixValues(pattern, v, batch, pos, keys, nHeads, dHead, z);
        const wantZ = new Float32Array(z.length);
        single.mixValues(wantPattern, vv, batch, pos, keys, nHeads, dHead, wantZ);
        expectSameBits(z, wantZ, "z");
        const refZ = mixValues(new Tensor(wantPattern, [batch, nHeads, pos, keys]), new Tensor(vv, [batch, keys, nHeads, dHead])).data;
        expectClose(z, refZ, () => scale, "z");

        for (const x of [q, k, v, scores, pattern, z]) expectGuards(pool, x);
        expect(Array.from(q)).toEqual(Array.from(qv));
      }),
      propertyParams(`attention ${threads}`, 80),
    );
    expect(fallbacks).toEqual([]);
  });

  it("mixes values with ±∞ and skipped zero weights like the single-threaded kernel", () => {
    const [batch, pos, keys, nHeads, dHead] = [2, 5, 7, 3, 9];
    const next = rng(7);
    const vv = values(batch * keys * nHeads * dHead, next, 0, 3);
    vv[4] = Infinity;
    vv[40] = -Infinity;
    const pv = values(batch * nHeads * pos * keys, next, 0.5, 1);
    const p = inMemory(pool, pv), v = inMemory(pool, vv), z = inMemory(pool, new Float32Array(batch * pos * nHeads * dHead));
    pooled.mixValues(p, v, batch, pos, keys, nHeads, dHead, z);
    const want = new Float32Array(z.length);
    single.mixValues(pv, vv, batch, pos, keys, nHeads, dHead, want);
    expectSameBits(z, want, "z");
  });

  it("softmax: odd widths, causal −∞, NaN rows, all-−∞ rows reported; rows ending at the end of the memory", () => {
    fallbacks.length = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 37 }), fc.integer({ min: 1, max: 0x7fffffff }), fc.boolean(), (rows, width, seed, allMasked) => {
        const next = rng(seed);
        // Row r sees columns j ≤ r mod width (causal); a few NaNs.
        const xv = Float32Array.from({ length: rows * width }, (_, i) =>
          i % width > Math.floor(i / width) % width ? -Infinity : next() < 0.02 ? Number.NaN : (next() - 0.5) * 40);
        if (allMasked) xv.fill(-Infinity, (rows >> 1) * width, ((rows >> 1) + 1) * width);
        const x = inMemory(pool, xv);
        const want = new Float32Array(xv.length);
        const ok = singleSoftmax(xv, width, want);
        if (allMasked) expect(ok).toBe(false);
        expect(softmax(x, width, x)).toBe(ok);
        // In place, an all-−∞ row is left as it was by both (the single-threaded one copies it back).
        expectSameBits(x, want, "softmax");
        expectGuards(pool, x);
      }),
      propertyParams(`softmax ${threads}`, 60),
    );
    // The last row's tail (width % 4 ≠ 0) ends exactly at the end of the memory: an over-read traps.
    const width = 7, rows = 9;
    pool.memory.grow(1);
    const end = pool.memory.buffer.byteLength;
    const x = new Float32Array(pool.memory.buffer, end - rows * width * 4, rows * width);
    x.set(Float32Array.from(x, (_, i) => Math.sin(i)));
    const want = new Float32Array(x.length);
    singleSoftmax(x, width, want);
    expect(softmax(x, width, x)).toBe(true);
    expectSameBits(x, want, "softmax at the end of the memory");
    expect(fallbacks).toEqual([]);
  });

  it("leaves plain arrays, overlapping outputs and bad shapes to the fallback", () => {
    fallbacks.length = 0;
    const [batch, pos, keys, nHeads, dHead] = [1, 3, 3, 2, 4];
    const q = inMemory(pool, new Float32Array(batch * pos * nHeads * dHead).fill(1));
    pooled.attentionScores(q, q, batch, pos, keys, nHeads, dHead, new Float32Array(batch * nHeads * pos * keys));
    const scores = pool.allocView(24).view;
    pooled.attentionScores(q, q, batch, pos, keys, nHeads, dHead, q.subarray(0, 18));
    expect(() => pooled.attentionScores(q, q, batch, pos, keys, nHeads, dHead, scores.subarray(0, 17))).toThrow();
    pooled.mixValues(new Float32Array(18), q, batch, pos, keys, nHeads, dHead, scores);
    const out = new Float32Array(6);
    expect(softmax(new Float32Array(6), 3, out)).toBe(true);
    expect(softmax(scores.subarray(0, 6), 3, scores.subarray(1, 7))).toBe(true);
    expect(fallbacks).toEqual(["scores", "scores", "scores", "mix", "softmax", "softmax"]);
  });

  it.skipIf(threads === 1)("computes every plane bit-identically on the workers", () => {
    // Which thread takes a chunk is a race; testSchedule "workers" gives them all to the workers.
    const onWorkers = mustPool(threads, "workers");
    const noFallback = (): never => expect.fail("fell back");
    const attention = createPoolAttention(onWorkers, { attentionScores: noFallback, mixValues: noFallback });
    const [batch, pos, nHeads, dHead] = [4, 64, 12, 64];
    const planes = batch * nHeads;
    const next = rng(11);
    const qv = values(batch * pos * nHeads * dHead, next, 0.1, 2);
    const vv = values(qv.length, next, 0.1, 2);
    const q = inMemory(onWorkers, qv), v = inMemory(onWorkers, vv);
    const scores = inMemory(onWorkers, new Float32Array(planes * pos * pos));
    const z = inMemory(onWorkers, new Float32Array(qv.length));
    const before = onWorkers.workerChunks;
    attention.attentionScores(q, q, batch, pos, pos, nHeads, dHead, scores);
    expect(onWorkers.workerChunks - before).toBe(rowChunkPlan(planes, threads).chunks);
    const wantScores = new Float32Array(scores.length);
    single.attentionScores(qv, qv, batch, pos, pos, nHeads, dHead, wantScores);
    expectSameBits(scores, wantScores, "scores");
    // Mixing with the scores as weights (large, but it only has to match the single-threaded kernel).
    attention.mixValues(scores, v, batch, pos, pos, nHeads, dHead, z);
    expect(onWorkers.workerChunks - before).toBe(2 * rowChunkPlan(planes, threads).chunks);
    const wantZ = new Float32Array(z.length);
    single.mixValues(wantScores, vv, batch, pos, pos, nHeads, dHead, wantZ);
    expectSameBits(z, wantZ, "z");
    for (const x of [q, v, scores, z]) expectGuards(onWorkers, x);
  });
});

describe("the parallel backend's kernels", () => {
  // testSchedule "workers": every chunk on the worker, so a row job is seen there whatever the load.
  const backend = createParallelWasmBackend({ threads: 2, minParallelRowWork: 0, testSchedule: "workers" });
  afterAll(() => backend?.close());

  it.runIf(backend !== null)("run attention on views of its memory as row jobs", () => {
    const { pool, kernels } = backend!;
    // A worker still starting up is offered no jobs: the main thread would run this one alone.
    expect(pool.waitUntilReady(60_000)).toBe(true);
    const [batch, pos, nHeads, dHead] = [2, 16, 4, 8];
    const qv = Float32Array.from({ length: batch * pos * nHeads * dHead }, (_, i) => Math.cos(i));
    const q = pool.allocView(qv.length).view;
    q.set(qv);
    const scores = pool.allocView(batch * nHeads * pos * pos).view;
    const before = pool.workerChunks;
    kernels!.attentionScores!(q, q, batch, pos, pos, nHeads, dHead, scores);
    expect(pool.workerChunks - before).toBe(rowChunkPlan(batch * nHeads, 2).chunks);
    const want = new Float32Array(scores.length);
    single.attentionScores(qv, qv, batch, pos, pos, nHeads, dHead, want);
    expectSameBits(scores, want, "scores");
  });
});
