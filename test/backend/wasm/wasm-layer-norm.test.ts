/**
 * The run-time-generated WebAssembly SIMD LayerNorm (scale, fused scale + normalize, normalize with
 * a given scale, affine) against src/tensor/layer-norm.ts: fast-check over odd and even widths,
 * one to many rows (past the copy chunk), rows with large offsets, arrays in the workspace's memory
 * (in place) and plain arrays (copied), mixed, in place and partially overlapping.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Gpt2LensError } from "../../../src/errors.ts";
import { layerNormAffine, layerNormNormalize, layerNormScale } from "../../../src/tensor/layer-norm.ts";
import { Tensor } from "../../../src/tensor/tensor.ts";
import { createWasmLayerNorm, type WasmLayerNorm } from "../../../src/backend/wasm/wasm-layer-norm.ts";
import { gemmWorkspace } from "../../helpers/kernel-workspace.ts";

/** Per element: |Δ| ≤ REL·(|expected| + 1), the normalized values being O(1) by construction. */
const REL = 1e-5;
const EPS = 1e-5;

const ws = gemmWorkspace();
const inMemory = createWasmLayerNorm(ws)!;
const own = createWasmLayerNorm()!;

function close(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= REL * (Math.abs(e) + 1))) expect.fail(`${label}[${i}]: got ${a}, expected ${e}`);
  }
}

/** A copy of `values` in the workspace's memory or in a plain array. */
function place(values: Float32Array, memory: boolean): Float32Array {
  const out = memory ? ws.alloc(values.length) : new Float32Array(values.length);
  out.set(values);
  return out;
}

const rowsCase = fc
  .record({
    width: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(767, 768, 769)),
    rows: fc.integer({ min: 1, max: 7 }),
    offset: fc.constantFrom(0, 1e3, -3e3, 0.5),
    spread: fc.constantFrom(1, 1e-2, 30),
    seed: fc.integer(),
    memory: fc.record({ x: fc.boolean(), scale: fc.boolean(), out: fc.boolean() }),
  })
  .map((c) => {
    let s = c.seed >>> 0;
    const next = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    const x = Float32Array.from({ length: c.rows * c.width }, () => c.offset + c.spread * next());
    const weight = Float32Array.from({ length: c.width }, () => 1 + next());
    const bias = Float32Array.from({ length: c.width }, () => next());
    return { ...c, x, weight, bias };
  });

describe.each([["the workspace's memory", inMemory], ["its own memory", own]] as [string, WasmLayerNorm][])("wasm LayerNorm on %s", (_, ln) => {
  it("scale, fused scale + normalize, normalize with a given scale and affine equal layer-norm.ts", () => {
    fc.assert(
      fc.property(rowsCase, ({ width, rows, x, weight, bias, memory }) => {
        const t = new Tensor(x, [rows, width]);
        const wantScale = layerNormScale(t, EPS);
        const wantNorm = layerNormNormalize(t, wantScale);
        const wantAffine = layerNormAffine(wantNorm, weight, bias);

        const src = place(x, memory.x);
        const scale = place(new Float32Array(rows), memory.scale);
        ln.scale(src, width, EPS, scale);
        close(scale, wantScale.data, "scale");

        const fusedScale = place(new Float32Array(rows), memory.scale);
        const normalized = place(new Float32Array(x.length), memory.out);
        ln.scale(src, width, EPS, fusedScale, normalized);
        close(fusedScale, wantScale.data, "fused scale");
        close(normalized, wantNorm.data, "fused normalized");

        const given = Float32Array.from(wantScale.data, (v, i) => v * (1 + i / 7));
        const out = place(new Float32Array(x.length), memory.out);
        ln.normalize(src, width, place(given, memory.scale), out);
        close(out, layerNormNormalize(t, new Tensor(given, wantScale.shape)).data, "normalize with a given scale");

        const affine = place(new Float32Array(x.length), memory.x);
        ln.affine(normalized, width, weight, bias, affine);
        close(affine, wantAffine.data, "affine");
        ln.affine(normalized, width, weight, bias, normalized);
        close(normalized, wantAffine.data, "affine in place");
        expect(Array.from(src)).toEqual(Array.from(x));
      }),
      { numRuns: 150 },
    );
  });

  it("many rows (past the copy chunk) and rows far from zero", () => {
    const width = 769, rows = 200;
    const x = Float32Array.from({ length: rows * width }, (_, i) => 1e4 * ((i % 5) - 2) + Math.sin(i) * 1e-2 + (i % width) * 1e-3);
    const t = new Tensor(x, [rows, width]);
    const wantScale = layerNormScale(t, EPS);
    const wantNorm = layerNormNormalize(t, wantScale);
    for (const memory of [false, true]) {
      const scale = place(new Float32Array(rows), memory);
      const out = place(new Float32Array(x.length), !memory);
      ln.scale(place(x, memory), width, EPS, scale, out);
      close(scale, wantScale.data, "scale");
      close(out, wantNorm.data, "normalized");
    }
  });

  it("reads a partially overlapping input before overwriting it", () => {
    const width = 5, rows = 4;
    const backing = place(Float32Array.from({ length: (rows + 1) * width }, (_, i) => Math.cos(i) * 3 + i), true);
    const x = backing.subarray(0, rows * width);
    const t = new Tensor(x.slice(), [rows, width]);
    const wantScale = layerNormScale(t, EPS);
    const out = backing.subarray(width);
    ln.scale(x, width, EPS, new Float32Array(rows), out);
    close(out, layerNormNormalize(t, wantScale).data, "overlapping normalized");
  });

  it("rejects a bad width and mismatched lengths with typed errors", () => {
    const x = new Float32Array(6);
    expect(() => ln.scale(x, 0, EPS, new Float32Array(1))).toThrow(Gpt2LensError);
    expect(() => ln.scale(x, 4, EPS, new Float32Array(2))).toThrow(/not rows of width 4/);
    expect(() => ln.scale(x, 3, EPS, new Float32Array(3))).toThrow(/scale has 3 values, expected 2/);
    expect(() => ln.normalize(x, 3, new Float32Array(2), new Float32Array(5))).toThrow(Gpt2LensError);
    expect(() => ln.affine(x, 3, new Float32Array(2), new Float32Array(3), new Float32Array(6))).toThrow(Gpt2LensError);
  });

  it("NaN and ±∞ give what layer-norm.ts gives", () => {
    const width = 6;
    const x = Float32Array.from([1, 2, NaN, 4, 5, 6, 1, Infinity, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0]);
    const t = new Tensor(x, [3, width]);
    const wantScale = layerNormScale(t, EPS);
    const scale = new Float32Array(3);
    const out = new Float32Array(x.length);
    ln.scale(x, width, EPS, scale, out);
    expect(Array.from(scale)).toEqual(Array.from(wantScale.data));
    expect(Array.from(out)).toEqual(Array.from(layerNormNormalize(t, wantScale).data));
  });
});
