/**
 * The run-time-generated WebAssembly SIMD gelu_new kernel against a float64 reference and the JS
 * `geluNew`: fast-check over lengths (every length % 32 remainder, chunk boundaries) and all f32
 * values (±0, subnormals, ±huge, ±∞, NaN), a dense sweep and a sweep over the f32 bit patterns,
 * in-place and overlapping views, and kernel variants.
 *
 * Reference: gelu_new(x) = 0.5·x·(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), evaluated in float64
 * as x·e/(e + 1) with e = e^{2u} — the identical function without the 1 + tanh cancellation, which
 * makes the literal tanh form useless as a relative reference for x ≲ −3 (it is checked against the
 * literal form where that is well-conditioned).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/errors.ts";
import { geluNew } from "../../../src/tensor/activation.ts";
import { Tensor } from "../../../src/tensor/tensor.ts";
import { GELU_X_HI, GELU_X_LO, generateGeluModule } from "../../../src/backend/wasm/kernels/gelu-kernel.ts";
import { createWasmGelu, type WasmGelu } from "../../../src/backend/wasm/wasm-gelu.ts";

const WA = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array<ArrayBuffer>): boolean } }).WebAssembly;

/** Relative tolerance vs the float64 function (measured max ≈ 2.2e-7: exp ≈ 1 ulp + 2 roundings). */
const REL = 2.5e-7;
const ABS = 1e-30;
const C = Math.sqrt(2 / Math.PI);

function reference(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === -Infinity) return -0;
  const e = Math.exp(2 * C * (x + 0.044715 * x * x * x));
  // x·(e/(e + 1)), not (x·e)/(e + 1): for x ≈ 21.1…21.3, e is finite but x·e overflows.
  return e === Infinity ? x : x * (e / (e + 1));
}

function mustCreate(...args: Parameters<typeof createWasmGelu>): WasmGelu {
  const g = createWasmGelu(...args);
  if (g === null) throw new Error("createWasmGelu() returned null (no wasm SIMD?)");
  return g;
}

/** Max relative error (beyond the absolute allowance) of out vs the reference; fails on a NaN mismatch. */
function check(xs: Float32Array, out: Float32Array, rel = REL): number {
  let worst = 0;
  for (let i = 0; i < xs.length; i++) {
    const want = reference(xs[i]!);
    const got = out[i]!;
    if (Number.isNaN(want) || Number.isNaN(got)) {
      if (Number.isNaN(want) !== Number.isNaN(got)) expect.fail(`gelu(${xs[i]}) = ${got}, expected ${want}`);
      continue;
    }
    if (want === 0 || !Number.isFinite(want)) {
      if (Math.abs(got - want) > ABS && got !== want) expect.fail(`gelu(${xs[i]}) = ${got}, expected ${want}`);
      continue;
    }
    const err = Math.abs(got - want);
    if (err <= ABS) continue;
    const r = (err - ABS) / Math.abs(want);
    if (r > rel) expect.fail(`gelu(${xs[i]}) = ${got}, expected ${want} (relative error ${r.toExponential(3)})`);
    worst = Math.max(worst, r);
  }
  return worst;
}

const gelu = mustCreate();

function apply(g: WasmGelu, xs: Float32Array): Float32Array {
  const out = new Float32Array(xs.length).fill(12345);
  g(xs, out);
  return out;
}

/** Any f32 incl. ±0, subnormals, ±∞, NaN, weighted toward the interesting range. */
const anyValue = fc.oneof(
  { weight: 4, arbitrary: fc.float({ min: -12, max: 12 }) },
  { weight: 2, arbitrary: fc.float() },
  { weight: 1, arbitrary: fc.float({ min: Math.fround(-1e-36), max: Math.fround(1e-36) }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 1e-45, -1e-45, 3.4e38, -3.4e38, GELU_X_HI, GELU_X_LO, -10, 10) },
);

describe("generateGeluModule", () => {
  it("emits valid modules for every unroll; rejects bad options", () => {
    for (const unroll of [1, 2, 4, 8]) expect(WA.validate(generateGeluModule({ unroll }))).toBe(true);
    expect(() => generateGeluModule({ unroll: 3 })).toThrow(RangeError);
  });
});

describe("createWasmGelu", () => {
  it("matches the float64 function to 2.5e-7 relative on random lengths and values (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(anyValue, { maxLength: 300 }), (values) => {
        const xs = Float32Array.from(values);
        check(xs, apply(gelu, xs));
      }),
      { numRuns: 500 },
    );
  });

  it("agrees with the JS geluNew within 1e-6 relative on finite inputs (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noDefaultInfinity: true, noNaN: true }), { maxLength: 200 }), fc.array(fc.float({ min: -15, max: 15, noNaN: true }), { maxLength: 200 }), (a, b) => {
        const xs = Float32Array.from([...a, ...b]);
        const got = apply(gelu, xs);
        const js = geluNew(new Tensor(xs, [xs.length])).data;
        for (let i = 0; i < xs.length; i++) {
          const d = Math.abs(got[i]! - js[i]!);
          if (d > ABS && d > 1e-6 * Math.abs(js[i]!)) expect.fail(`gelu(${xs[i]}): wasm ${got[i]}, JS ${js[i]}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("is within 2.5e-7 on a dense sweep of [−12, 12] and on a sweep of all f32 bit patterns", () => {
    const n = 1 << 20;
    const dense = new Float32Array(n);
    for (let i = 0; i < n; i++) dense[i] = -12 + (24 * i) / (n - 1);
    const worstDense = check(dense, apply(gelu, dense));
    const bits = new Uint32Array(n);
    for (let i = 0; i < n; i++) bits[i] = (i * 4096 + ((i * 2654435761) >>> 20)) >>> 0;
    const sweep = new Float32Array(bits.buffer);
    const worstBits = check(sweep, apply(gelu, sweep));
    expect(Math.max(worstDense, worstBits)).toBeLessThanOrEqual(REL);
  });

  it("stays finite where (x·e)/(e + 1) would overflow (x ≈ 21.1…21.3), like the JS geluNew", () => {
    const xs = Float32Array.from({ length: 401 }, (_, i) => 21 + i / 1000);
    expect(Array.from(apply(gelu, xs))).toEqual(Array.from(xs));
    expect(Array.from(geluNew(new Tensor(xs, [xs.length])).data)).toEqual(Array.from(xs));
  });

  it("agrees with the literal 0.5·x·(1 + tanh(u)) where that is well-conditioned (x ≥ −2)", () => {
    const xs = Float32Array.from({ length: 4001 }, (_, i) => -2 + i / 200);
    const got = apply(gelu, xs);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      const want = 0.5 * x * (1 + Math.tanh(C * (x + 0.044715 * x ** 3)));
      expect(Math.abs(got[i]! - want)).toBeLessThanOrEqual(REL * Math.abs(want) + ABS);
    }
  });

  it("maps special values: ±0 → ±0, +∞ → +∞, −∞ and huge negatives → −0, huge positives → x, NaN → NaN", () => {
    const xs = Float32Array.of(0, -0, Infinity, -Infinity, -3.4e38, -1e20, -20, 3.4e38, 1e20, 20, NaN, -NaN, 1e-45, -1e-45);
    const got = apply(gelu, xs);
    expect(Object.is(got[0], 0)).toBe(true);
    expect(Object.is(got[1], -0)).toBe(true);
    expect(got[2]).toBe(Infinity);
    for (const i of [3, 4, 5, 6]) expect(Object.is(got[i], -0)).toBe(true);
    for (const i of [7, 8, 9]) expect(got[i]).toBe(xs[i]);
    expect(got[10]).toBeNaN();
    expect(got[11]).toBeNaN();
    expect(Math.abs(got[12]!)).toBeLessThanOrEqual(1e-45);
    expect(Math.abs(got[13]!)).toBeLessThanOrEqual(1e-45);
    // No overflow NaNs anywhere near the clamp points or beyond.
    const edges = Float32Array.from({ length: 2001 }, (_, i) => (i - 1000) * 0.05);
    check(edges, apply(gelu, edges));
  });

  it("handles every length % 32 (incl. 0) and leaves the rest of `out` alone", () => {
    for (let n = 0; n <= 70; n++) {
      const xs = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 6);
      const backing = new Float32Array(n + 2).fill(777);
      const out = backing.subarray(1, n + 1);
      gelu(xs, out);
      check(xs, out);
      expect(backing[0]).toBe(777);
      expect(backing[n + 1]).toBe(777);
    }
  });

  it("works in place and on overlapping views, across chunks", () => {
    const small = mustCreate({ chunkFloats: 8 });
    for (const g of [gelu, small]) {
      const xs = Float32Array.from({ length: 103 }, (_, i) => (i - 50) / 7);
      const expected = apply(g, xs);
      const inPlace = xs.slice();
      g(inPlace, inPlace);
      expect(Array.from(inPlace)).toEqual(Array.from(expected));
      for (const shift of [-9, -1, 1, 4, 9]) {
        const backing = new Float32Array(103 + 20);
        backing.set(xs, 10);
        const src = backing.subarray(10, 113);
        const dst = backing.subarray(10 + shift, 113 + shift);
        g(src, dst);
        expect(Array.from(dst)).toEqual(Array.from(expected));
      }
    }
  });

  it("gives identical results across chunk sizes, unrolls and memory growth", () => {
    const xs = Float32Array.from({ length: 50_003 }, (_, i) => Math.sin(i * 0.37) * 11 + (i % 7) * 1e-3);
    const expected = apply(gelu, xs);
    check(xs, expected);
    const grower = mustCreate({ chunkFloats: 1 << 20 });
    expect(Array.from(apply(grower, xs.subarray(0, 5)))).toEqual(Array.from(expected.subarray(0, 5)));
    expect(Array.from(apply(grower, xs))).toEqual(Array.from(expected)); // grows the memory
    expect(Array.from(apply(grower, xs.subarray(0, 17)))).toEqual(Array.from(expected.subarray(0, 17)));
    for (const chunkFloats of [1, 4, 13, 4096]) {
      for (const unroll of [1, 2, 4]) {
        expect(Array.from(apply(mustCreate({ chunkFloats, kernel: { unroll } }), xs))).toEqual(Array.from(expected));
      }
    }
  });

  it("rejects mismatched lengths", () => {
    expect(() => gelu(new Float32Array(4), new Float32Array(5))).toThrow(InputError);
  });
});
