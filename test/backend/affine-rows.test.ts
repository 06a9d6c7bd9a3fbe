/** affineRowsInPlace: the WebAssembly SIMD kernel on workspace views equals the TypeScript path bit for bit. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Gpt2LensError } from "../../src/errors.ts";
import { affineRowsInPlace } from "../../src/backend/affine-rows.ts";
import { createWasmBackend } from "../../src/backend/wasm/wasm-backend.ts";
import { instantiateAffineRowsKernel } from "../../src/backend/wasm/wasm-affine-rows.ts";
import { firstBitDifference } from "../helpers/compare.ts";

const workspace = createWasmBackend()!.workspace!;
const kernel = instantiateAffineRowsKernel(workspace.memory!)!;

const finite = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e4, max: 1e4 });

const problem = fc
  .record({ rows: fc.integer({ min: 1, max: 5 }), cols: fc.integer({ min: 1, max: 37 }) })
  .chain(({ rows, cols }) =>
    fc.record({
      rows: fc.constant(rows),
      cols: fc.constant(cols),
      x: fc.array(finite, { minLength: rows * cols, maxLength: rows * cols }),
      base: fc.array(finite, { minLength: rows * cols, maxLength: rows * cols }),
      scale: fc.array(fc.double({ noNaN: true, min: -10, max: 10 }), { minLength: rows, maxLength: rows }),
      bias: fc.array(finite, { minLength: cols, maxLength: cols }),
    }),
  );

function inWorkspace(values: readonly number[]): Float32Array {
  const view = workspace.alloc(values.length);
  view.set(values);
  return view;
}

describe("affineRowsInPlace", () => {
  it("the kernel on workspace views gives the bits of the TypeScript path, which rounds each step to float32", () => {
    fc.assert(
      fc.property(problem, ({ rows, cols, x, base, scale, bias }) => {
        const plain = Float32Array.from(x);
        affineRowsInPlace(plain, Float32Array.from(base), scale, Float32Array.from(bias));
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < cols; j++) {
            const i = r * cols + j;
            const expected = Math.fround(Math.fround(Math.fround(base[i]! + Math.fround(x[i]!)) * Math.fround(scale[r]!)) + Math.fround(bias[j]!));
            expect(plain[i]).toBe(expected);
          }
        }
        const views = [inWorkspace(x), inWorkspace(Float32Array.from(base) as unknown as number[]), inWorkspace(Float32Array.from(bias) as unknown as number[])];
        try {
          const [vx, vbase, vbias] = views as [Float32Array, Float32Array, Float32Array];
          const raw = vx.slice();
          affineRowsInPlace(vx, vbase, scale, vbias, workspace);
          expect(firstBitDifference(vx, plain)).toBe(-1);
          // The raw kernel itself (affineRowsInPlace must be taking it on these views).
          vx.set(raw);
          for (let r = 0; r < rows; r++) {
            kernel.affineRow(vx.byteOffset + 4 * r * cols, vbase.byteOffset + 4 * r * cols, vbias.byteOffset, cols, Math.fround(scale[r]!));
          }
          expect(firstBitDifference(vx, plain)).toBe(-1);
        } finally {
          for (const view of views) workspace.release(view);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("works on row-block views (as productLogSumExp hands them) and leaves what follows untouched", () => {
    const cols = 50257 % 97;
    const all = inWorkspace(Array.from({ length: 4 * cols }, (_, i) => i / 7));
    const base = inWorkspace(Array.from({ length: 2 * cols }, (_, i) => -i / 3));
    const bias = inWorkspace(Array.from({ length: cols }, (_, i) => i % 5));
    try {
      const expected = all.slice(cols, 3 * cols);
      affineRowsInPlace(expected, base.slice(), [0.5, 2], bias.slice());
      const after = all.slice(3 * cols);
      affineRowsInPlace(all.subarray(cols, 3 * cols), base, [0.5, 2], bias, workspace);
      expect(firstBitDifference(all.subarray(cols, 3 * cols), expected)).toBe(-1);
      expect(firstBitDifference(all.subarray(3 * cols), after)).toBe(-1);
      expect(all[0]).toBe(0);
    } finally {
      for (const view of [all, base, bias]) workspace.release(view);
    }
  });

  it("computes a foreign shared buffer in TypeScript, never at its offsets in the workspace's memory", () => {
    const x = new Float32Array(new SharedArrayBuffer(4 * 8)).fill(1);
    const base = inWorkspace([1, 2, 3, 4, 5, 6, 7, 8]);
    const bias = inWorkspace([0, 0, 0, 0]);
    try {
      affineRowsInPlace(x, base, [1, 2], bias, workspace);
      expect(Array.from(x)).toEqual([2, 3, 4, 5, 12, 14, 16, 18]);
    } finally {
      workspace.release(base);
      workspace.release(bias);
    }
  });

  it("rejects mismatched shapes with a typed error", () => {
    expect(() => affineRowsInPlace(new Float32Array(6), new Float32Array(6), [1, 1], new Float32Array(2))).toThrow(Gpt2LensError);
    expect(() => affineRowsInPlace(new Float32Array(6), new Float32Array(4), [1, 1], new Float32Array(3))).toThrow(/base 4/);
  });
});
