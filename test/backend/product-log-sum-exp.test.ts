/**
 * productLogSumExp in row blocks equals logSumExpRows and the picked columns of the whole product,
 * on the reference and the WebAssembly backends; bad input is a typed error. On a backend with a
 * workspace (the worker pool's, whose log-sum-exp splits the rows over its threads, or a counting
 * one that only names the memory) the blocks live there: the numbers are
 * bit-identical to the same backend without it, the buffer is reused across calls, and errors
 * neither leak it nor leave it held.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { createWasmBackend } from "../../src/backend/wasm/wasm-backend.ts";
import { logSumExpRows } from "../../src/backend/log-sum-exp.ts";
import type { BackendWorkspace, MatmulBackend } from "../../src/backend/backend.ts";
import { referenceBackend } from "../../src/backend/reference/reference-backend.ts";
import { productLogSumExp } from "../../src/backend/product-log-sum-exp.ts";
import { createParallelWasmBackend, type ParallelWasmBackend } from "../../src/backend/wasm/threads/node-parallel-backend.ts";
import type { WasmMemory } from "../../src/backend/wasm/wasm-api.ts";

const backends: [string, MatmulBackend][] = [["reference", referenceBackend], ["wasm", createWasmBackend()!]];

const cases = fc
  .tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 40 }))
  .chain(([m, k, n]) =>
    fc.record({
      m: fc.constant(m), k: fc.constant(k), n: fc.constant(n),
      a: fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: m * k, maxLength: m * k }),
      w: fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: k * n, maxLength: k * n }),
      pick: fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 5 }),
      blockRows: fc.integer({ min: 1, max: 10 }),
    }),
  );

describe.each(backends)("productLogSumExp on the %s backend", (_, backend) => {
  it("equals the log-sum-exp and picked columns of the whole product, whatever the row block", () => {
    fc.assert(
      fc.property(cases, ({ m, k, n, a, w, pick, blockRows }) => {
        const weight = backend.prepare(Float32Array.from(w), k, n);
        const product = new Float32Array(m * n);
        backend.matmul(Float32Array.from(a), m, weight, product, null);
        const result = productLogSumExp(backend, Float32Array.from(a), m, weight, pick, { blockBytes: blockRows * n * 4 });
        expect(Array.from(result.logSumExp)).toEqual(Array.from(logSumExpRows(product, n)));
        const expected = Array.from({ length: m * pick.length }, (_, i) => product[Math.floor(i / pick.length) * n + pick[i % pick.length]!]!);
        expect(Array.from(result.picked)).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });

  it("reduces the blocks as rewritten by `adjust` (each row's place in the product given)", () => {
    fc.assert(
      fc.property(cases, ({ m, k, n, a, w, pick, blockRows }) => {
        const weight = backend.prepare(Float32Array.from(w), k, n);
        const product = new Float32Array(m * n);
        backend.matmul(Float32Array.from(a), m, weight, product, null);
        const rewritten = product.map((v, i) => v * 0.5 + Math.floor(i / n) - (i % n));
        const adjust = (block: Float32Array, firstRow: number, rows: number) => {
          for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) block[r * n + j] = block[r * n + j]! * 0.5 + (firstRow + r) - j;
        };
        const result = productLogSumExp(backend, Float32Array.from(a), m, weight, pick, { blockBytes: blockRows * n * 4, adjust });
        expect(Array.from(result.logSumExp)).toEqual(Array.from(logSumExpRows(rewritten, n)));
        const expected = Array.from({ length: m * pick.length }, (_, i) => rewritten[Math.floor(i / pick.length) * n + pick[i % pick.length]!]!);
        expect(Array.from(result.picked)).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  });

  it("rejects a wrong-sized input and columns outside the product", () => {
    const weight = backend.prepare(new Float32Array(6), 2, 3);
    expect(() => productLogSumExp(backend, new Float32Array(5), 2, weight, [])).toThrow(InputError);
    expect(() => productLogSumExp(backend, new Float32Array(4), 2, weight, [3])).toThrow(/pick\[0\] = 3 is outside \[0, 3\)/);
    expect(productLogSumExp(backend, new Float32Array(0), 0, weight, [1]).logSumExp).toHaveLength(0);
  });
});

/** A workspace that counts the buffers it hands out, optionally naming the memory they live in. */
interface CountingWorkspace extends BackendWorkspace {
  readonly memory?: WasmMemory;
  allocs: number;
  releases: number;
}

function counting(inner: BackendWorkspace, memory?: WasmMemory): CountingWorkspace {
  const ws: CountingWorkspace = {
    ...(memory === undefined ? {} : { memory }),
    allocs: 0,
    releases: 0,
    alloc(floats) {
      ws.allocs++;
      return inner.alloc(floats);
    },
    release(view) {
      ws.releases++;
      inner.release(view);
    },
  };
  return ws;
}

/** A workspace of plain arrays (for backends without memory of their own). */
const plainWorkspace = (): BackendWorkspace => ({ alloc: (floats) => new Float32Array(floats), release: () => {} });

const adjustCases = cases.chain((c) => fc.record({ c: fc.constant(c), adjust: fc.boolean() }));

/** The rewrite the `adjust` tests apply (depends on the row's place in the product). */
function rewrite(n: number) {
  return (block: Float32Array, firstRow: number, rows: number) => {
    for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) block[r * n + j] = block[r * n + j]! * 0.5 + (firstRow + r) - j;
  };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i]!;
    if (Math.abs(actual[i]! - e) > tolerance * Math.max(1, Math.abs(e))) expect.fail(`[${i}]: ${actual[i]} vs ${e}`);
  }
}

describe("productLogSumExp on a backend with a workspace", () => {
  let pool: ParallelWasmBackend;
  /** The pool's backend without its workspace: the plain path. */
  let plain: MatmulBackend;
  let configs: [string, MatmulBackend][];

  beforeAll(() => {
    // minParallelFlops / minParallelRowWork 0: even these small products, and the log-sum-exp of
    // their blocks (the workspace's own, a row job), are split across the threads.
    pool = createParallelWasmBackend({ threads: 2, minParallelFlops: 0, minParallelRowWork: 0 })!;
    expect(pool.pool.waitUntilReady()).toBe(true);
    plain = { ...pool, workspace: undefined };
    configs = [
      ["the pool's workspace", pool],
      ["the pool's workspace naming its memory", { ...pool, workspace: counting(pool.workspace!, pool.pool.memory) }],
    ];
  });

  afterAll(async () => {
    await pool.close();
  });

  it("gives the numbers of the same backend without it exactly, and the reference's within 1e-5 (adjust, picks, partial blocks)", () => {
    fc.assert(
      fc.property(adjustCases, ({ c: { m, k, n, a, w, pick, blockRows }, adjust }) => {
        const aa = Float32Array.from(a, (x) => x / 4);
        const ww = Float32Array.from(w, (x) => x / 4);
        const options = { blockBytes: blockRows * n * 4, adjust: adjust ? rewrite(n) : undefined };
        const expected = productLogSumExp(referenceBackend, aa, m, referenceBackend.prepare(ww, k, n), pick, options);
        const weight = pool.prepare(ww, k, n);
        try {
          const want = productLogSumExp(plain, aa, m, weight, pick, options);
          for (const [, backend] of configs) {
            const got = productLogSumExp(backend, aa, m, weight, pick, options);
            expect(Array.from(got.logSumExp)).toEqual(Array.from(want.logSumExp));
            expect(Array.from(got.picked)).toEqual(Array.from(want.picked));
            expectClose(got.logSumExp, expected.logSumExp, 1e-5);
            expectClose(got.picked, expected.picked, 1e-5);
          }
        } finally {
          pool.release!(weight);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("has the pool write the blocks in its memory (adjust sees views of it) and matches on GPT-2-sized rows", () => {
    const [m, k, n] = [23, 64, 50257];
    const next = xorshift(3);
    const a = Float32Array.from({ length: m * k }, () => next() * 2 - 1);
    const w = Float32Array.from({ length: k * n }, () => next() * 2 - 1);
    const weight = pool.prepare(w, k, n);
    const pick = [0, 1000, 50256, 1000];
    const seen: boolean[] = [];
    const options = { blockBytes: 10 * n * 4, adjust: (block: Float32Array) => void seen.push(pool.pool.isMemoryView(block)) };
    const want = productLogSumExp(plain, a, m, weight, pick, options);
    expect(seen).toEqual([false, false, false]);
    for (const [, backend] of configs) {
      seen.length = 0;
      const got = productLogSumExp(backend, a, m, weight, pick, options);
      expect(seen).toEqual([true, true, true]); // blocks of 10, 10 and 3 rows
      expect(Array.from(got.logSumExp)).toEqual(Array.from(want.logSumExp));
      expect(Array.from(got.picked)).toEqual(Array.from(want.picked));
    }
    pool.release!(weight);
  });

  it("reuses one buffer across calls (a larger block replaces it) and leaks none on errors", () => {
    const workspace = counting(pool.workspace!, pool.pool.memory);
    const backend: MatmulBackend = { ...pool, workspace };
    const [m, k, n] = [9, 5, 70];
    const next = xorshift(9);
    const a = Float32Array.from({ length: m * k }, () => next() - 0.5);
    const weight = pool.prepare(Float32Array.from({ length: k * n }, () => next() - 0.5), k, n);
    const want = productLogSumExp(plain, a, m, weight, [3, 69], { blockBytes: 4 * n * 4 });
    const run = (options: Parameters<typeof productLogSumExp>[5] = {}) =>
      productLogSumExp(backend, a, m, weight, [3, 69], { blockBytes: 4 * n * 4, ...options });
    for (let i = 0; i < 5; i++) expect(Array.from(run().logSumExp)).toEqual(Array.from(want.logSumExp));
    expect([workspace.allocs, workspace.releases]).toEqual([1, 0]);
    run({ blockBytes: 2 * n * 4 }); // smaller blocks: the same buffer
    expect([workspace.allocs, workspace.releases]).toEqual([1, 0]);
    run({ blockBytes: 9 * n * 4 }); // larger: replaced
    expect([workspace.allocs, workspace.releases]).toEqual([2, 1]);
    const heapTop = pool.pool.gemm.heapTop;

    const inWorkspace = (): boolean => {
      let seen = false;
      run({ adjust: (block) => void (seen = pool.pool.isMemoryView(block)) });
      return seen;
    };
    expect(() => productLogSumExp(backend, a, m, weight, [70])).toThrow(/pick\[0\] = 70 is outside/);
    expect(() => run({ adjust: () => { throw new Error("adjust failed"); } })).toThrow("adjust failed");
    expect(inWorkspace()).toBe(true); // not left held by the failed call
    const foreign = referenceBackend.prepare(new Float32Array(k * n), k, n);
    expect(() => productLogSumExp(backend, a, m, foreign, [1])).toThrow(/prepared by another backend/);
    expect(inWorkspace()).toBe(true);
    expect([workspace.allocs, workspace.releases]).toEqual([2, 1]);
    expect(pool.pool.gemm.heapTop).toBe(heapTop);

    // A call from inside `adjust` (the buffer is held) uses plain arrays; both results are right.
    let inner: ReturnType<typeof productLogSumExp> | undefined;
    const outer = run({ adjust: (block, firstRow) => {
      if (firstRow === 0) inner = productLogSumExp(backend, a, m, weight, [3, 69], { adjust: (b) => void expect(pool.pool.isMemoryView(b)).toBe(false) });
      expect(pool.pool.isMemoryView(block)).toBe(true);
    } });
    expect(Array.from(outer.logSumExp)).toEqual(Array.from(want.logSumExp));
    expect(Array.from(inner!.logSumExp)).toEqual(Array.from(want.logSumExp));
    expect(Array.from(inner!.picked)).toEqual(Array.from(want.picked));
    expect([workspace.allocs, workspace.releases]).toEqual([2, 1]);
    expect(productLogSumExp(backend, new Float32Array(0), 0, weight, [1]).logSumExp).toHaveLength(0);
    expect(workspace.allocs).toBe(2);
    pool.release!(weight);
  });

  it("uses plain arrays when the workspace cannot allocate, and the workspace again once it can", () => {
    let full = true;
    const inner = counting(plainWorkspace());
    const workspace: BackendWorkspace = {
      alloc: (floats) => {
        if (full) throw new Error("out of memory");
        return inner.alloc(floats);
      },
      release: (view) => inner.release(view),
    };
    const backend: MatmulBackend = { ...referenceBackend, workspace };
    const weight = referenceBackend.prepare(Float32Array.from({ length: 6 * 40 }, (_, i) => Math.sin(i)), 6, 40);
    const a = Float32Array.from({ length: 7 * 6 }, (_, i) => Math.cos(i));
    const want = productLogSumExp(referenceBackend, a, 7, weight, [0, 39], { blockBytes: 3 * 40 * 4 });
    const got = productLogSumExp(backend, a, 7, weight, [0, 39], { blockBytes: 3 * 40 * 4 });
    expect(Array.from(got.logSumExp)).toEqual(Array.from(want.logSumExp));
    expect(Array.from(got.picked)).toEqual(Array.from(want.picked));
    full = false;
    productLogSumExp(backend, a, 7, weight, [0, 39], { blockBytes: 3 * 40 * 4 });
    expect(inner.allocs).toBe(1);
  });

  it("takes a workspace of plain arrays on the reference backend: the reference's numbers exactly", () => {
    const workspace = counting(plainWorkspace());
    const backend: MatmulBackend = { ...referenceBackend, workspace };
    fc.assert(
      fc.property(adjustCases, ({ c: { m, k, n, a, w, pick, blockRows }, adjust }) => {
        const weight = referenceBackend.prepare(Float32Array.from(w), k, n);
        const options = { blockBytes: blockRows * n * 4, adjust: adjust ? rewrite(n) : undefined };
        const want = productLogSumExp(referenceBackend, Float32Array.from(a), m, weight, pick, options);
        const got = productLogSumExp(backend, Float32Array.from(a), m, weight, pick, options);
        expect(Array.from(got.logSumExp)).toEqual(Array.from(want.logSumExp));
        expect(Array.from(got.picked)).toEqual(Array.from(want.picked));
      }),
      { numRuns: 40 },
    );
    expect(workspace.allocs - workspace.releases).toBe(1);
  });
});

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}
