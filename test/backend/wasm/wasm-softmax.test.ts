/**
 * The run-time-generated WebAssembly SIMD row softmax against a float64 reference and
 * `softmaxLastAxis` (src/tensor/softmax.ts): fast-check over widths (every width % 16 remainder),
 * value mixes with causal −∞ entries, all-−∞ rows (reported as false), NaN / +∞ rows, in-place and
 * overlapping views, chunking.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/errors.ts";
import { applyCausalMaskInPlace, softmaxLastAxis } from "../../../src/tensor/softmax.ts";
import { Tensor } from "../../../src/tensor/tensor.ts";
import { generateSoftmaxModule } from "../../../src/backend/wasm/kernels/softmax-kernel.ts";
import { createWasmSoftmaxRows, type WasmSoftmaxRows } from "../../../src/backend/wasm/wasm-softmax.ts";

const WA = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array<ArrayBuffer>): boolean } }).WebAssembly;

/** |Δ| ≤ REL·p + ABS per probability (exp ≈ 1e-7, f32 x − max ≈ |x − max|·6e-8 relative, 1/sum). */
const REL = 2e-6;
const ABS = 1e-12;

function mustCreate(...args: Parameters<typeof createWasmSoftmaxRows>): WasmSoftmaxRows {
  const s = createWasmSoftmaxRows(...args);
  if (s === null) throw new Error("createWasmSoftmaxRows() returned null (no wasm SIMD?)");
  return s;
}

/** float64 softmax per row; null for a row whose max (ignoring NaN) is −∞. */
function reference(x: ArrayLike<number>, width: number): (Float64Array | null)[] {
  const rows: (Float64Array | null)[] = [];
  for (let base = 0; base < x.length; base += width) {
    let max = -Infinity;
    for (let j = 0; j < width; j++) if (x[base + j]! > max) max = x[base + j]!;
    if (max === -Infinity) {
      rows.push(null);
      continue;
    }
    const e = new Float64Array(width);
    let sum = 0;
    for (let j = 0; j < width; j++) sum += e[j] = Math.exp(x[base + j]! - max);
    for (let j = 0; j < width; j++) e[j]! /= sum;
    rows.push(e);
  }
  return rows;
}

function check(x: Float32Array, width: number, out: Float32Array, ok: boolean): void {
  const ref = reference(x, width);
  expect(ok).toBe(ref.every((r) => r !== null));
  ref.forEach((r, row) => {
    if (r === null) return;
    for (let j = 0; j < width; j++) {
      const got: number = out[row * width + j]!;
      const want: number = r[j]!;
      if (Number.isNaN(want)) {
        if (!Number.isNaN(got)) expect.fail(`row ${row} col ${j}: got ${got}, expected NaN`);
      } else if (x[row * width + j] === -Infinity) {
        if (!Object.is(got, 0)) expect.fail(`row ${row} col ${j}: −∞ gave ${got}, expected exactly 0`);
      } else if (!(Math.abs(got - want) <= REL * want + ABS)) {
        expect.fail(`row ${row} col ${j}: got ${got}, expected ${want}`);
      }
    }
  });
}

const softmax = mustCreate();

function run(s: WasmSoftmaxRows, x: Float32Array, width: number): { out: Float32Array; ok: boolean } {
  const out = new Float32Array(x.length).fill(12345);
  const ok = s(x, width, out);
  return { out, ok };
}

const value = fc.oneof(
  { weight: 20, arbitrary: fc.float({ min: -30, max: 30, noNaN: true }) },
  { weight: 4, arbitrary: fc.constant(-Infinity) },
  { weight: 1, arbitrary: fc.constantFrom(1e4, -1e4, 0, -0, 88, -200) },
);

describe("createWasmSoftmaxRows", () => {
  it("emits a valid module", () => {
    expect(WA.validate(generateSoftmaxModule())).toBe(true);
  });

  it("matches a float64 softmax on random rows with −∞ entries (fast-check)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 80 }), fc.infiniteStream(value), (rows, width, stream) => {
        const x = Float32Array.from(stream.take(rows * width));
        const { out, ok } = run(softmax, x, width);
        check(x, width, out, ok);
      }),
      { numRuns: 400 },
    );
  });

  it("agrees with softmaxLastAxis on causal-masked attention scores, every width % 16", () => {
    for (let width = 1; width <= 40; width++) {
      const scores = new Tensor(Float32Array.from({ length: 2 * width * width }, (_, i) => Math.sin(i * 0.91) * 9), [2, width, width]);
      applyCausalMaskInPlace(scores);
      const want = softmaxLastAxis(scores).data;
      const { out, ok } = run(softmax, scores.data, width);
      expect(ok).toBe(true);
      check(scores.data, width, out, ok);
      for (let i = 0; i < want.length; i++) {
        if (!(Math.abs(out[i]! - want[i]!) <= REL * want[i]! + ABS)) expect.fail(`width ${width} [${i}]: ${out[i]} vs ${want[i]}`);
      }
    }
  });

  it("handles long rows (GPT-2 context 1024, vocabulary 50257) and sums to 1", () => {
    for (const width of [1024, 50257]) {
      const x = Float32Array.from({ length: 2 * width }, (_, i) => Math.cos(i * 0.37) * 12 - (i % 5));
      for (let j = width - 100; j < width; j++) x[j] = -Infinity;
      const { out, ok } = run(softmax, x, width);
      check(x, width, out, ok);
      for (let r = 0; r < 2; r++) {
        let s = 0;
        for (let j = 0; j < width; j++) s += out[r * width + j]!;
        expect(Math.abs(s - 1)).toBeLessThan(1e-5);
      }
    }
  });

  it("returns false for an all −∞ row (others still computed); NaN and +∞ rows → NaN rows", () => {
    const I = Infinity;
    const x = Float32Array.from([1, 2, 3, 4, 5, -I, -I, -I, -I, -I, 0, NaN, 1, 2, 3, NaN, -I, -I, -I, -I, 1, I, 0, -I, 2, -I, -I, -I, -I, 7]);
    const { out, ok } = run(softmax, x, 5);
    expect(ok).toBe(false);
    check(x, 5, out, ok);
    expect(Array.from(out.subarray(10, 15)).every(Number.isNaN)).toBe(true);
    expect(Array.from(out.subarray(20, 25)).every(Number.isNaN)).toBe(true);
    expect(Array.from(out.subarray(25, 30))).toEqual([0, 0, 0, 0, 1]);
    expect(() => softmaxLastAxis(new Tensor(x.slice(5, 10), [1, 5]))).toThrow(InputError); // same verdict as softmax.ts
    expect(run(softmax, Float32Array.of(-I), 1).ok).toBe(false);
    expect(Array.from(run(softmax, Float32Array.of(-5, 1e30), 1).out)).toEqual([1, 1]);
  });

  it("works in place, on overlapping views and across chunk sizes", () => {
    const width = 37;
    const x = Float32Array.from({ length: 11 * width }, (_, i) => (i % 3 === 0 ? -Infinity : Math.sin(i) * 5));
    x[0] = 1;
    const expected = run(softmax, x, width).out;
    for (const s of [softmax, mustCreate({ chunkFloats: 1 }), mustCreate({ chunkFloats: 100 })]) {
      expect(Array.from(run(s, x, width).out)).toEqual(Array.from(expected));
      const inPlace = x.slice();
      expect(s(inPlace, width, inPlace)).toBe(true);
      expect(Array.from(inPlace)).toEqual(Array.from(expected));
      for (const shift of [-3, 5]) {
        const backing = new Float32Array(x.length + 10);
        backing.set(x, 5);
        const dst = backing.subarray(5 + shift, 5 + shift + x.length);
        expect(s(backing.subarray(5, 5 + x.length), width, dst)).toBe(true);
        expect(Array.from(dst)).toEqual(Array.from(expected));
      }
    }
  });

  it("accepts empty input and rejects bad shapes", () => {
    expect(softmax(new Float32Array(0), 0, new Float32Array(0))).toBe(true);
    expect(softmax(new Float32Array(0), 7, new Float32Array(0))).toBe(true);
    expect(() => softmax(new Float32Array(6), 4, new Float32Array(6))).toThrow(InputError);
    expect(() => softmax(new Float32Array(6), 0, new Float32Array(6))).toThrow(InputError);
    expect(() => softmax(new Float32Array(6), 3, new Float32Array(7))).toThrow(InputError);
    expect(() => softmax(new Float32Array(6), 1.5, new Float32Array(6))).toThrow(InputError);
  });
});
