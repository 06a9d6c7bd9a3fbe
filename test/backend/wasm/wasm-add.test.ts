/**
 * The WebAssembly SIMD x += y is bit-identical to the plain loop (fast-check): any length (past the
 * copy chunk too), operands in the workspace's memory (in place) or plain arrays (copied), mixed,
 * the same array twice, partially overlapping views.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Gpt2LensError } from "../../../src/errors.ts";
import { createWasmAddInPlace, type WasmAddInPlace } from "../../../src/backend/wasm/wasm-add.ts";
import { firstBitDifference } from "../../helpers/compare.ts";
import { gemmWorkspace } from "../../helpers/kernel-workspace.ts";

const ws = gemmWorkspace();

function place(values: Float32Array, inMemory: boolean): Float32Array {
  const out = inMemory ? ws.alloc(values.length) : new Float32Array(values.length);
  out.set(values);
  return out;
}

function plainSum(x: Float32Array, y: Float32Array): Float32Array {
  const out = x.slice();
  for (let i = 0; i < out.length; i++) out[i] = out[i]! + y[i]!;
  return out;
}

describe.each([["the workspace's memory", createWasmAddInPlace(ws)!], ["its own memory", createWasmAddInPlace()!]] as [string, WasmAddInPlace][])(
  "wasm addInPlace on %s",
  (_, addInPlace) => {
    it("rejects arrays of different lengths with a typed error", () => {
      expect(() => addInPlace(new Float32Array(4), new Float32Array(3))).toThrow(Gpt2LensError);
    });

    it("equals the plain loop bit for bit", () => {
      const cases = fc.record({
        x: fc.float32Array({ maxLength: 70, noNaN: true }),
        seed: fc.float32Array({ maxLength: 70, noNaN: true }),
        xIn: fc.boolean(),
        yIn: fc.boolean(),
      });
      fc.assert(
        fc.property(cases, ({ x, seed, xIn, yIn }) => {
          const y = Float32Array.from(x, (_, i) => seed[i % Math.max(seed.length, 1)] ?? 1.5);
          const want = plainSum(x, y);
          const a = place(x, xIn);
          addInPlace(a, place(y, yIn));
          expect(firstBitDifference(a, want)).toBe(-1);
        }),
        { numRuns: 200 },
      );
    });

    it("many values, the same array twice, overlapping views", () => {
      const n = 200_003;
      const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3);
      const y = Float32Array.from({ length: n }, (_, i) => Math.cos(i) / 3);
      for (const [xIn, yIn] of [[false, false], [true, false], [false, true], [true, true]]) {
        const a = place(x, xIn!);
        addInPlace(a, place(y, yIn!));
        expect(firstBitDifference(a, plainSum(x, y))).toBe(-1);
      }
      const twice = place(y, true);
      addInPlace(twice, twice);
      expect(firstBitDifference(twice, plainSum(y, y))).toBe(-1);
      const backing = place(Float32Array.from({ length: 11 }, (_, i) => i + 0.25), true);
      const expected = plainSum(backing.slice(0, 8), backing.slice(3, 11));
      addInPlace(backing.subarray(0, 8), backing.subarray(3, 11));
      expect(firstBitDifference(backing.subarray(0, 8), expected)).toBe(-1);
    });
  },
);
