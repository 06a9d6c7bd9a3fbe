/**
 * The WebAssembly ForwardKernels behind geluNew / softmaxLastAxis / the LayerNorm steps / addInPlace
 * equal the plain TypeScript definitions (fast-check), and report an all −∞ softmax row with the same typed
 * error.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { geluNew } from "../../src/tensor/activation.ts";
import { addInPlace } from "../../src/tensor/elementwise.ts";
import { layerNorm, layerNormAffine, layerNormNormalize, layerNormScale, layerNormScaleNormalize } from "../../src/tensor/layer-norm.ts";
import { softmaxLastAxis } from "../../src/tensor/softmax.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { createWasmForwardKernels } from "../../src/backend/wasm/wasm-forward-kernels.ts";
import { expectClose, firstBitDifference } from "../helpers/compare.ts";

const kernels = createWasmForwardKernels()!;

describe("wasm ForwardKernels through the tensor ops", () => {
  it("exist where WebAssembly SIMD does", () => {
    expect(kernels).not.toBeNull();
    expect(typeof kernels.geluNew).toBe("function");
    expect(typeof kernels.softmaxRows).toBe("function");
  });

  it("geluNew(x, kernels) equals geluNew(x)", () => {
    // The kernel's contract: 2e-7 relative plus 1e-30 absolute (it gives −0 below x = −9.9, where
    // |gelu_new| < 2e-36), so an array of only tiny values is compared absolutely.
    const check = (values: number[]) => {
      const x = Tensor.from(values, [values.length]);
      const fast = geluNew(x, kernels).data;
      const exact = geluNew(x).data;
      const scale = exact.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
      exact.forEach((v, i) => expect(Math.abs(fast[i]! - v), `gelu_new(${values[i]})`).toBeLessThanOrEqual(1e-6 * scale + 1e-30));
    };
    check([-9.90000057220459]); // once a counterexample (seed 2060052590) of a purely relative check
    fc.assert(
      fc.property(fc.array(fc.float({ min: -30, max: 30, noNaN: true }), { minLength: 1, maxLength: 300 }), check),
      { numRuns: 100 },
    );
  });

  it("softmaxLastAxis(x, kernels) equals softmaxLastAxis(x), −∞ entries exactly 0", () => {
    const rows = fc.integer({ min: 1, max: 40 }).chain((width) =>
      fc.array(
        fc.array(fc.oneof(fc.float({ min: -50, max: 50, noNaN: true }), fc.constant(-Infinity)), { minLength: width, maxLength: width })
          .filter((row) => row.some((v) => v !== -Infinity)),
        { minLength: 1, maxLength: 6 },
      ).map((list) => ({ width, list })),
    );
    fc.assert(
      fc.property(rows, ({ width, list }) => {
        const x = Tensor.from(list.flat(), [list.length, width]);
        const fast = softmaxLastAxis(x, kernels).data;
        expectClose(fast, softmaxLastAxis(x).data, 2e-6, "softmax");
        x.data.forEach((v, i) => v === -Infinity && expect(fast[i]).toBe(0));
      }),
      { numRuns: 100 },
    );
    const dead = Tensor.from([0, 1, -Infinity, -Infinity], [2, 2]);
    expect(() => softmaxLastAxis(dead, kernels)).toThrow(InputError);
    expect(() => softmaxLastAxis(dead, kernels)).toThrow(/entirely -Infinity/);
  });

  it("the LayerNorm steps with kernels equal them without", () => {
    const cases = fc.integer({ min: 1, max: 50 }).chain((width) =>
      fc.record({
        width: fc.constant(width),
        rows: fc.array(fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: width, maxLength: width }), { minLength: 1, maxLength: 5 }),
        offset: fc.constantFrom(0, 1e3),
        weight: fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: width, maxLength: width }),
        bias: fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: width, maxLength: width }),
      }),
    );
    fc.assert(
      fc.property(cases, ({ width, rows, offset, weight, bias }) => {
        const x = Tensor.from(rows.flat().map((v) => v + offset), [1, rows.length, width]);
        const w = Float32Array.from(weight), b = Float32Array.from(bias);
        const scale = layerNormScale(x, 1e-5);
        expect(layerNormScale(x, 1e-5, kernels).shape).toEqual([1, rows.length, 1]);
        expectClose(layerNormScale(x, 1e-5, kernels).data, scale.data, 1e-5, "scale");
        const normalized = layerNormNormalize(x, scale);
        expectClose(layerNormNormalize(x, scale, undefined, kernels).data, normalized.data, 1e-5, "normalized");
        const both = layerNormScaleNormalize(x, 1e-5, new Float32Array(x.size), kernels);
        expectClose(both.scale.data, scale.data, 1e-5, "fused scale");
        expectClose(both.normalized.data, normalized.data, 1e-5, "fused normalized");
        const affine = layerNormAffine(normalized, w, b);
        expectClose(layerNormAffine(normalized, w, b, false, kernels).data, affine.data, 1e-5, "affine");
        expectClose(layerNorm(x, w, b, 1e-5, kernels).data, affine.data, 1e-5, "layerNorm");
      }),
      { numRuns: 100 },
    );
  });

  it("addInPlace(a, b, kernels) equals addInPlace(a, b) bit for bit", () => {
    fc.assert(
      fc.property(fc.float32Array({ minLength: 1, maxLength: 100, noNaN: true }), fc.float({ noNaN: true }), (values, shift) => {
        const b = Tensor.from(values.map((v) => v * 0.5 + shift), [values.length]);
        const fast = addInPlace(Tensor.from(values, [values.length]), b, kernels).data;
        expect(firstBitDifference(fast, addInPlace(Tensor.from(values, [values.length]), b).data)).toBe(-1);
      }),
      { numRuns: 100 },
    );
  });
});
