/**
 * The run-time-generated WebAssembly SIMD log-sum-exp kernel against a float64 Math.exp
 * reference: random shapes (every cols % 16 remainder), value mixes with ±1e4 and −∞, the raw
 * vector exp's per-element relative error, special rows (−∞ / +∞ / NaN), chunking and memory
 * growth, kernel variants, the wasm route of `logSumExpRows`, and the kernel run in place on rows
 * in a given (plain or shared) memory, bit-identical to the copying one.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/errors.ts";
import { logSumExpRows } from "../../../src/tasks/greater-than/metrics.ts";
import { logSumExpRowsInMemory } from "../../../src/backend/log-sum-exp.ts";
import { EXP_UNDERFLOW, generateLogSumExpModule } from "../../../src/backend/wasm/kernels/logsumexp-kernel.ts";
import type { WasmMemory } from "../../../src/backend/wasm/wasm-api.ts";
import {
  createLogSumExp, createLogSumExpInMemory, instantiateLogSumExpKernel, LOG_SUM_EXP_TAIL_PAD, type LogSumExpRows,
} from "../../../src/backend/wasm/wasm-logsumexp.ts";

const WA = (globalThis as unknown as {
  WebAssembly: {
    Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
    validate(bytes: Uint8Array<ArrayBuffer>): boolean;
  };
}).WebAssembly;

const LSE_TOLERANCE = 1e-6;
const EXP_TOLERANCE = 2e-7;

function mustCreate(...args: Parameters<typeof createLogSumExp>): LogSumExpRows {
  const f = createLogSumExp(...args);
  if (f === null) throw new Error("createLogSumExp() returned null (no wasm SIMD?)");
  return f;
}

/** float64 reference: max + log Σ exp(x − max); NaN row → NaN, +∞ → +∞, all −∞ → −∞. */
function reference(values: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    let nan = false;
    for (let j = 0; j < cols; j++) {
      const v = values[r * cols + j];
      if (Number.isNaN(v)) nan = true;
      else if (v > max) max = v;
    }
    if (nan) out[r] = NaN;
    else if (!Number.isFinite(max)) out[r] = max;
    else {
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += Math.exp(values[r * cols + j] - max);
      out[r] = max + Math.log(sum);
    }
  }
  return out;
}

function expectClose(actual: Float64Array, expected: Float64Array, tolerance = LSE_TOLERANCE): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!Number.isFinite(e)) expect(a).toBe(e);
    else if (Math.abs(a - e) > tolerance) expect.fail(`row ${i}: got ${a}, expected ${e} (|Δ| = ${Math.abs(a - e)})`);
  }
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

interface Mix {
  rows: number;
  cols: number;
  seed: number;
  /** Per-element probabilities of −∞, +1e4 and −1e4 (else uniform in [−scale, scale]). */
  pNegInf: number;
  pBig: number;
  pSmall: number;
  scale: number;
}

function mixed(m: Mix): Float32Array {
  const next = rng(m.seed);
  const out = new Float32Array(m.rows * m.cols);
  for (let i = 0; i < out.length; i++) {
    const u = next();
    if (u < m.pNegInf) out[i] = -Infinity;
    else if (u < m.pNegInf + m.pBig) out[i] = 1e4 * (1 + next() * 1e-3);
    else if (u < m.pNegInf + m.pBig + m.pSmall) out[i] = -1e4;
    else out[i] = (next() * 2 - 1) * m.scale;
  }
  return out;
}

const mixArb: fc.Arbitrary<Mix> = fc.record({
  rows: fc.integer({ min: 1, max: 5 }),
  cols: fc.integer({ min: 1, max: 3000 }),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  pNegInf: fc.constantFrom(0, 0, 0.01, 0.3, 0.99),
  pBig: fc.constantFrom(0, 0, 0.001, 0.05),
  pSmall: fc.constantFrom(0, 0.01, 0.5),
  scale: fc.constantFrom(1, 10, 100),
});

describe("generateLogSumExpModule", () => {
  it("emits valid modules for every kernel variant", () => {
    for (const unroll of [1, 2, 4, 8]) {
      for (const maxUnroll of [1, 2, 4, 8]) {
        for (const pairwise of [true, false]) {
          expect(WA.validate(generateLogSumExpModule({ unroll, maxUnroll, pairwise }))).toBe(true);
        }
      }
    }
  });

  it("rejects bad options", () => {
    expect(() => generateLogSumExpModule({ unroll: 3 })).toThrow(RangeError);
    expect(() => generateLogSumExpModule({ maxUnroll: 16 })).toThrow(RangeError);
  });
});

describe("vector exp (the kernel's exp export)", () => {
  const memory = new WA.Memory({ initial: 16 });
  const kernel = instantiateLogSumExpKernel(memory);
  if (kernel === null) throw new Error("no wasm SIMD");

  /** e^x for each x (rounded to f32) through the kernel. */
  const wasmExp = (xs: ArrayLike<number>): Float32Array => {
    const n = Math.ceil(xs.length / 4) * 4;
    const heap = new Float32Array(memory.buffer);
    heap.fill(0, 0, n);
    heap.set(xs, 0);
    kernel.exp(0, n * 4, n);
    return new Float32Array(memory.buffer).slice(n, n + xs.length);
  };

  const relError = (x: number, y: number): number => Math.abs(y - Math.exp(x)) / Math.exp(x);

  it("has relative error ≤ 2e-7 against Math.exp over [−87, 88] (fast-check)", () => {
    fc.assert(
      fc.property(fc.float32Array({ min: -87, max: 88, noNaN: true, minLength: 1, maxLength: 200 }), (xs) => {
        const ys = wasmExp(xs);
        for (let i = 0; i < xs.length; i++) {
          if (relError(xs[i], ys[i]) > EXP_TOLERANCE) expect.fail(`exp(${xs[i]}) = ${ys[i]}, Math.exp: ${Math.exp(xs[i])}`);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("has relative error ≤ 2e-7 on a dense sweep (and near 0, where the sums' weight is)", () => {
    const n = 1 << 16;
    let worst = 0;
    for (const [lo, hi] of [[-87, 88], [-1, 0], [-1e-3, 1e-3], [-20, 0]] as const) {
      const xs = new Float32Array(n);
      for (let i = 0; i < n; i++) xs[i] = lo + ((hi - lo) * i) / (n - 1);
      const ys = wasmExp(xs);
      for (let i = 0; i < n; i++) worst = Math.max(worst, relError(xs[i], ys[i]));
    }
    expect(worst).toBeLessThanOrEqual(EXP_TOLERANCE);
  });

  it("maps 0 → 1 exactly, underflow and −∞ → 0, NaN → NaN", () => {
    const ys = wasmExp([0, -0, EXP_UNDERFLOW - 0.5, -1000, -Infinity, NaN, -3.4e38, EXP_UNDERFLOW + 0.01]);
    expect(Array.from(ys.subarray(0, 5))).toEqual([1, 1, 0, 0, 0]);
    expect(ys[5]).toBeNaN();
    expect(ys[6]).toBe(0);
    expect(ys[7]).toBeGreaterThan(0);
  });
});

describe("createLogSumExp", () => {
  const lse = mustCreate();

  it("agrees with a float64 reference on random rows with ±1e4 and −∞ (fast-check)", () => {
    fc.assert(
      fc.property(mixArb, (m) => {
        const values = mixed(m);
        expectClose(lse(values, m.rows, m.cols), reference(values, m.rows, m.cols));
      }),
      { numRuns: 200 },
    );
  });

  it("agrees on arbitrary f32 rows in [−100, 100] mixed with ±1e4 and −∞ (fast-check)", () => {
    const value = fc.oneof(
      { weight: 20, arbitrary: fc.float({ min: -100, max: 100, noNaN: true }) },
      { weight: 1, arbitrary: fc.constantFrom(1e4, -1e4, -Infinity) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 70 }), fc.infiniteStream(value), (rows, cols, stream) => {
        const values = Float32Array.from(stream.take(rows * cols));
        expectClose(lse(values, rows, cols), reference(values, rows, cols));
      }),
      { numRuns: 300 },
    );
  });

  it("is accurate on full GPT-2-vocabulary rows (peaked and flat)", () => {
    const cols = 50257;
    const next = rng(7);
    const values = new Float32Array(3 * cols);
    for (let j = 0; j < cols; j++) {
      values[j] = (next() * 2 - 1) * 100; // flat-ish, wide range
      values[cols + j] = -80 + (next() + next() + next() - 1.5) * 6; // logits-like
      values[2 * cols + j] = next() * 1e-3; // almost equal: sum ≈ 50257
    }
    values[cols + 123] = -55; // one dominant token
    expectClose(lse(values, 3, cols), reference(values, 3, cols));
  });

  it("handles every cols % 16 remainder and single-element rows exactly", () => {
    for (let cols = 1; cols <= 40; cols++) {
      const values = mixed({ rows: 3, cols, seed: cols, pNegInf: 0.1, pBig: 0, pSmall: 0, scale: 50 });
      expectClose(lse(values, 3, cols), reference(values, 3, cols));
    }
    const singles = Float32Array.from([3.25, -7, 1e4, -1e4, 0]);
    expect(Array.from(lse(singles, 5, 1))).toEqual(Array.from(singles));
  });

  it("gives −∞ for all-−∞ rows, +∞ for rows with +∞, NaN for rows with NaN", () => {
    const I = Infinity;
    const rows = [
      [-I, -I, -I, -I, -I], // all −∞
      [-I, 2, -I, -I, -I], // one finite value
      [1, 2, I, 3, -I], // +∞
      [1, NaN, 3, 4, 5], // NaN
      [I, NaN, -I, 0, 0], // NaN beats +∞
      [NaN, NaN, NaN, NaN, NaN],
      [-I, -I, NaN, -I, -I],
      [I, I, I, I, I],
      [0, 0, 0, 0, 0],
    ];
    const got = lse(Float32Array.from(rows.flat()), rows.length, 5);
    expect(got[0]).toBe(-Infinity);
    expect(got[1]).toBe(2);
    expect(got[2]).toBe(Infinity);
    expect(got[3]).toBeNaN();
    expect(got[4]).toBeNaN();
    expect(got[5]).toBeNaN();
    expect(got[6]).toBeNaN();
    expect(got[7]).toBe(Infinity);
    expect(got[8]).toBeCloseTo(Math.log(5), 14);
    // Specials in the vector body and in the tail of a long row.
    for (const at of [0, 17, 63, 998, 999]) {
      const v = new Float32Array(1000).fill(-1);
      v[at] = NaN;
      expect(lse(v, 1, 1000)[0]).toBeNaN();
      v[at] = Infinity;
      expect(lse(v, 1, 1000)[0]).toBe(Infinity);
      v.fill(-Infinity);
      v[at] = 0.5;
      expect(lse(v, 1, 1000)[0]).toBe(0.5);
    }
  });

  it("returns −∞ per row for zero columns and nothing for zero rows; rejects bad shapes", () => {
    expect(Array.from(lse(new Float32Array(0), 3, 0))).toEqual([-Infinity, -Infinity, -Infinity]);
    expect(lse(new Float32Array(0), 0, 10).length).toBe(0);
    expect(() => lse(new Float32Array(10), 3, 3)).toThrow(InputError);
    expect(() => lse(new Float32Array(6), 2.5, 3)).toThrow(InputError);
    expect(() => lse(new Float32Array(6), -2, -3)).toThrow(InputError);
  });

  it("gives the same results across chunk sizes, kernel variants and memory growth", () => {
    const m: Mix = { rows: 23, cols: 1237, seed: 99, pNegInf: 0.05, pBig: 0.001, pSmall: 0.01, scale: 30 };
    const values = mixed(m);
    const expected = reference(values, m.rows, m.cols);
    const small = mustCreate({ chunkFloats: 1 }); // one row per call, memory grows later
    expectClose(small(Float32Array.of(1, 2, 3), 1, 3), reference([1, 2, 3], 1, 3));
    expectClose(small(values, m.rows, m.cols), expected);
    expectClose(mustCreate({ chunkFloats: 5000 })(values, m.rows, m.cols), expected);
    for (const unroll of [1, 2, 8]) {
      for (const pairwise of [true, false]) {
        expectClose(mustCreate({ kernel: { unroll, maxUnroll: unroll, pairwise } })(values, m.rows, m.cols), expected);
      }
    }
    // Repeated calls on one instance after a big input (no growth) still agree.
    expectClose(lse(values, m.rows, m.cols), expected);
    const big = mixed({ ...m, rows: 300, cols: 5000 });
    expectClose(lse(big, 300, 5000), reference(big, 300, 5000));
    expectClose(lse(values, m.rows, m.cols), expected);
  });

  it("reads a Float32Array view at an offset without touching the rest of its buffer", () => {
    const backing = new Float32Array(1 + 2 * 10 + 3).fill(NaN);
    const view = backing.subarray(1, 21);
    for (let i = 0; i < 20; i++) view[i] = i / 4;
    expectClose(lse(view, 2, 10), reference(view, 2, 10));
  });
});

describe("logSumExpRows (metrics) through the wasm kernel", () => {
  it("agrees with its float64 fallback (plain arrays) to 1e-6, incl. special rows", () => {
    fc.assert(
      fc.property(mixArb, (m) => {
        const values = mixed({ ...m, cols: Math.min(m.cols, 800) });
        const cols = Math.min(m.cols, 800);
        const viaWasm = logSumExpRows(values, cols);
        const viaMath = logSumExpRows(Array.from(values), cols);
        expectClose(viaWasm, viaMath);
      }),
      { numRuns: 100 },
    );
    const I = Infinity;
    const specials = [-I, -I, 1, -I, I, 3, NaN, 1, I, NaN];
    const a = logSumExpRows(Float32Array.from(specials), 2);
    const b = logSumExpRows(specials, 2);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).toEqual([-I, 1, I, NaN, NaN]);
  });
});

/** `values` copied into `memory` at byte `at`, followed by a NaN-filled tail pad, then the stats. */
function placeInMemory(memory: WasmMemory, values: Float32Array, rows: number, at: number): { view: Float32Array; stats: Float64Array } {
  const statsAt = Math.ceil((at + 4 * values.length + LOG_SUM_EXP_TAIL_PAD) / 8) * 8;
  const need = statsAt + 16 * rows;
  if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
  const view = new Float32Array(memory.buffer, at, values.length);
  view.set(values);
  new Float32Array(memory.buffer, at + 4 * values.length, LOG_SUM_EXP_TAIL_PAD / 4).fill(NaN);
  return { view, stats: new Float64Array(memory.buffer, statsAt, 2 * rows) };
}

describe("createLogSumExpInMemory (rows read in place)", () => {
  const copying = mustCreate();
  const plain = new WA.Memory({ initial: 1 });
  const shared = new WA.Memory({ initial: 1, maximum: 65536, shared: true });
  const kernels = [plain, shared].map((memory) => ({ memory, lse: createLogSumExpInMemory(memory)! }));

  it("equals the copying kernel bit for bit, at any 4-byte offset, in plain and shared memories (fast-check)", () => {
    fc.assert(
      fc.property(mixArb, fc.integer({ min: 0, max: 40 }), fc.boolean(), (m, offset, useShared) => {
        const { memory, lse } = kernels[useShared ? 1 : 0]!;
        const values = mixed(m);
        const { view, stats } = placeInMemory(memory, values, m.rows, 4 * offset);
        expect(Array.from(lse(view, m.rows, m.cols, stats))).toEqual(Array.from(copying(values, m.rows, m.cols)));
      }),
      { numRuns: 150 },
    );
  });

  it("keeps special rows and every cols % 4 tail exact with NaN after the last row", () => {
    const I = Infinity;
    const special = Float32Array.from([-I, -I, -I, 1, 2, I, 1, NaN, 3, 0, 0, 0]);
    for (const { memory, lse } of kernels) {
      const { view, stats } = placeInMemory(memory, special, 4, 12);
      expect(Array.from(lse(view, 4, 3, stats))).toEqual(Array.from(copying(special, 4, 3)));
      for (let cols = 1; cols <= 9; cols++) {
        const values = mixed({ rows: 2, cols, seed: cols, pNegInf: 0.2, pBig: 0, pSmall: 0, scale: 20 });
        const placed = placeInMemory(memory, values, 2, 4 * cols);
        expect(Array.from(lse(placed.view, 2, cols, placed.stats))).toEqual(Array.from(copying(values, 2, cols)));
      }
    }
  });

  it("survives growth of a shared memory (views from before it grew)", () => {
    const memory = new WA.Memory({ initial: 1, maximum: 64, shared: true });
    const lse = createLogSumExpInMemory(memory)!;
    const values = mixed({ rows: 3, cols: 1000, seed: 5, pNegInf: 0, pBig: 0, pSmall: 0, scale: 10 });
    const { view, stats } = placeInMemory(memory, values, 3, 64);
    memory.grow(2);
    expect(Array.from(lse(view, 3, 1000, stats))).toEqual(Array.from(copying(values, 3, 1000)));
  });

  it("rejects rows outside its memory, without the readable pad, and stats overlapping them", () => {
    const { memory, lse } = kernels[0]!;
    const { view, stats } = placeInMemory(memory, Float32Array.of(1, 2, 3, 4), 2, 64);
    expect(() => lse(Float32Array.of(1, 2, 3, 4), 2, 2, stats)).toThrow(/views of the kernel's memory/);
    expect(() => lse(view, 2, 2, new Float64Array(4))).toThrow(/views of the kernel's memory/);
    const end = memory.buffer.byteLength;
    const last = new Float32Array(memory.buffer, end - 16, 4);
    expect(() => lse(last, 2, 2, stats)).toThrow(/16 readable bytes/);
    expect(() => lse(view, 2, 2, new Float64Array(memory.buffer, 64, 4))).toThrow(/overlap/);
    expect(() => lse(view, 2, 2, stats.subarray(0, 3))).toThrow(InputError);
    expect(() => lse(view, 3, 2, stats)).toThrow(InputError);
    expect(Array.from(lse(view, 2, 2, stats))).toEqual(Array.from(copying(Float32Array.of(1, 2, 3, 4), 2, 2)));
  });

  it("is what logSumExpRowsInMemory runs: the same numbers as logSumExpRows", () => {
    const values = mixed({ rows: 7, cols: 333, seed: 11, pNegInf: 0.01, pBig: 0.001, pSmall: 0, scale: 30 });
    for (const memory of [plain, shared]) {
      const { view, stats } = placeInMemory(memory, values, 7, 128);
      expect(Array.from(logSumExpRowsInMemory(memory, view, 333, stats))).toEqual(Array.from(logSumExpRows(values, 333)));
    }
    expect(() => logSumExpRowsInMemory(plain, new Float32Array(0), 333, new Float64Array(0))).toThrow(InputError);
  });
});
