import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { batchedMatmul } from "../../src/tensor/matmul.ts";
import { Tensor } from "../../src/tensor/tensor.ts";

/** Independent oracle: the textbook triple loop in float64 over explicit indices. */
function naive(a: Tensor, b: Tensor): Float64Array {
  const [batch, m, k] = a.shape as [number, number, number];
  const n = b.shape[2]!;
  const out = new Float64Array(batch * m * n);
  for (let i = 0; i < batch; i++)
    for (let r = 0; r < m; r++)
      for (let c = 0; c < n; c++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += a.get(i, r, p) * b.get(i, p, c);
        out[(i * m + r) * n + c] = acc;
      }
  return out;
}

describe("batchedMatmul", () => {
  it("equals the textbook product for random shapes (incl. remainders of the 4×4 blocks)", () => {
    fc.assert(
      fc.property(
        fc.record({ batch: fc.integer({ min: 1, max: 3 }), m: fc.integer({ min: 1, max: 9 }), k: fc.integer({ min: 1, max: 9 }), n: fc.integer({ min: 1, max: 9 }) }),
        fc.integer(),
        ({ batch, m, k, n }, seed) => {
          let state = seed >>> 0;
          const next = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
          const a = new Tensor(Float32Array.from({ length: batch * m * k }, next), [batch, m, k]);
          const b = new Tensor(Float32Array.from({ length: batch * k * n }, next), [batch, k, n]);
          const out = batchedMatmul(a, b);
          expect(out.shape).toEqual([batch, m, n]);
          const expected = naive(a, b);
          out.data.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(1e-5));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("rejects mismatched shapes with a typed error naming them", () => {
    expect(() => batchedMatmul(Tensor.zeros([2, 3, 4]), Tensor.zeros([2, 5, 6]))).toThrow(InputError);
    expect(() => batchedMatmul(Tensor.zeros([2, 3, 4]), Tensor.zeros([3, 4, 6]))).toThrow(/\[2, 3, 4\] and \[3, 4, 6\]/);
  });
});
