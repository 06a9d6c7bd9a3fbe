/**
 * The LayerNorm backward kernels (layer-norm-backward-kernel.ts) against the plain-TypeScript
 * reference (src/backend/reference/layer-norm-backward.ts), fast-check over row counts and widths
 * (not multiples of 4 too), operands in the workspace's memory (in place) or plain arrays (copied),
 * in place over their input; within 1e-5 of the sums of the terms' magnitudes. The reference itself
 * against central differences of a float64 LayerNorm.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Gpt2LensError } from "../../../src/errors.ts";
import {
  referenceLayerNormAffineBackward, referenceLayerNormInputBackward, referenceLayerNormScaleBackward,
} from "../../../src/backend/reference/layer-norm-backward.ts";
import { createWasmLayerNormBackward, type LayerNormBackwardKernels } from "../../../src/backend/wasm/wasm-layer-norm-backward.ts";
import { gemmWorkspace, uniformFrom, expectWithinScale } from "../../helpers/kernel-workspace.ts";
import { propertyParams } from "../../helpers/property.ts";

const ws = gemmWorkspace();

const cases = fc.record({
  rows: fc.integer({ min: 1, max: 40 }),
  width: fc.integer({ min: 1, max: 70 }),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
  inMemory: fc.boolean(),
});

const abs = (a: Float32Array) => a.map(Math.abs);

describe.each([["its own memory", createWasmLayerNormBackward()!], ["the workspace's memory", createWasmLayerNormBackward(ws)!]] as [string, LayerNormBackwardKernels][])(
  "wasm LayerNorm backward on %s",
  (label, k) => {
    const place = (a: Float32Array, inMemory: boolean): Float32Array => {
      if (!inMemory) return a.slice();
      const view = ws.alloc(a.length);
      view.set(a);
      return view;
    };

    it("rejects mismatched lengths with a typed error", () => {
      expect(() => k.layerNormAffineBackward(new Float32Array(6), 4, new Float32Array(4), new Float32Array(6))).toThrow(Gpt2LensError);
      expect(() => k.layerNormInputBackward(new Float32Array(8), new Float32Array(1), new Float32Array(8), new Float32Array(2), 4, new Float32Array(8))).toThrow(Gpt2LensError);
    });

    it("match the reference, in place too", () => {
      fc.assert(fc.property(cases, ({ rows, width, seed, inMemory }) => {
        const r = uniformFrom(seed);
        const fill = (n: number, lo = 0) => Float32Array.from({ length: n }, () => r() + lo);
        const dOut = fill(rows * width), weight = fill(width), normalized = fill(rows * width), scale = fill(rows, 1.5), dScale = fill(rows);
        const want = new Float32Array(rows * width);
        referenceLayerNormAffineBackward(dOut, width, weight, want);
        const got = place(new Float32Array(rows * width), inMemory);
        k.layerNormAffineBackward(place(dOut, inMemory), width, weight, got);
        expectWithinScale(got, want, abs(want), "affine");
        const inPlace = place(dOut, inMemory);
        k.layerNormAffineBackward(inPlace, width, weight, inPlace);
        expectWithinScale(inPlace, want, abs(want), "affine in place");

        const dn = want;
        const wantScale = new Float32Array(rows);
        referenceLayerNormScaleBackward(dn, normalized, scale, width, wantScale);
        const scaleOfScale = new Float32Array(rows);
        referenceLayerNormScaleBackward(abs(dn), abs(normalized), abs(scale), width, scaleOfScale);
        const gotScale = place(new Float32Array(rows), inMemory);
        k.layerNormScaleBackward(place(dn, inMemory), place(normalized, inMemory), place(scale, inMemory), width, gotScale);
        expectWithinScale(gotScale, wantScale, abs(scaleOfScale), "scale");

        const wantIn = new Float32Array(rows * width);
        referenceLayerNormInputBackward(dn, dScale, normalized, scale, width, wantIn);
        const mag = Float32Array.from(wantIn, (_, i) => {
          const row = Math.floor(i / width);
          let s = 0;
          for (let j = 0; j < width; j++) s += Math.abs(dn[row * width + j]!) / width;
          return (Math.abs(dn[i]!) + s) / Math.abs(scale[row]!) + Math.abs((dScale[row]! / width) * normalized[i]!);
        });
        const gotIn = place(new Float32Array(rows * width), inMemory);
        k.layerNormInputBackward(place(dn, inMemory), place(dScale, inMemory), place(normalized, inMemory), place(scale, inMemory), width, gotIn);
        expectWithinScale(gotIn, wantIn, mag, "input");
        const dnInPlace = place(dn, inMemory);
        k.layerNormInputBackward(dnInPlace, place(dScale, inMemory), place(normalized, inMemory), place(scale, inMemory), width, dnInPlace);
        expectWithinScale(dnInPlace, wantIn, mag, "input in place");
      }), propertyParams(`LayerNorm backward ${label}`, 100));
    });
  },
);

describe("reference LayerNorm backward", () => {
  it("composes to the gradient of Σ g ⊙ LayerNorm(x) (central differences in float64)", () => {
    const width = 5;
    const x = [0.3, -1.2, 2.0, 0.7, -0.4];
    const w = [1.1, -0.6, 0.9, 1.4, 0.5];
    const g = [0.2, -0.7, 1.3, 0.4, -1.1];
    const eps = 1e-5;
    const ln = (v: number[]) => {
      const mean = v.reduce((a, b) => a + b, 0) / width;
      const scale = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / width + eps);
      return { scale, normalized: v.map((t) => (t - mean) / scale) };
    };
    const f = (v: number[]) => ln(v).normalized.reduce((a, n, j) => a + g[j]! * n * w[j]!, 0);
    const { scale, normalized } = ln(x);
    const dn = new Float32Array(width);
    referenceLayerNormAffineBackward(Float32Array.from(g), width, Float32Array.from(w), dn);
    const dScale = new Float32Array(1);
    referenceLayerNormScaleBackward(dn, Float32Array.from(normalized), Float32Array.of(scale), width, dScale);
    const dx = new Float32Array(width);
    referenceLayerNormInputBackward(dn, dScale, Float32Array.from(normalized), Float32Array.of(scale), width, dx);
    for (let i = 0; i < width; i++) {
      const h = 1e-6;
      const up = x.slice(), down = x.slice();
      up[i]! += h;
      down[i]! -= h;
      expect(dx[i]).toBeCloseTo((f(up) - f(down)) / (2 * h), 4);
    }
  });
});
