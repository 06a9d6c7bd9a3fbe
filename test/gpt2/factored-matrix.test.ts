/** FactoredMatrix products against the materialized matrix they stand for. */
import { describe, expect } from "vitest";
import { fc, test } from "@fast-check/vitest";
import { InputError } from "../../src/errors.ts";
import { FactoredMatrix } from "../../src/gpt2/factored-matrix.ts";
import { Tensor } from "../../src/tensor/tensor.ts";

// Small integers: every product is exact in float32, so factored and dense must agree exactly.
const matrix = (rows: number, cols: number) =>
  fc.array(fc.integer({ min: -4, max: 4 }), { minLength: rows * cols, maxLength: rows * cols })
    .map((values) => Tensor.from(values, [rows, cols]));

/** m, k, n, p and matrices A [m,k], B [k,n], X [n,p], Y [p,m], vectors v [n], w [m]. */
const cases = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }))
  .chain(([m, k, n, p]) => fc.record({
    a: matrix(m, k), b: matrix(k, n), x: matrix(n, p), y: matrix(p, m), v: matrix(1, n), w: matrix(1, m),
  }));

function dense(a: Tensor, b: Tensor): Tensor {
  const [m, k] = a.shape as [number, number];
  const n = b.shape[1]!;
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[i * n + j] += a.data[i * k + p]! * b.data[p * n + j]!;
  return new Tensor(out, [m, n]);
}

const same = (actual: Tensor, expected: Tensor, label: string) => expect([...actual.data], label).toEqual([...expected.data]);

describe("FactoredMatrix", () => {
  test.prop([cases], { numRuns: 60 })("every product equals the one with the materialized matrix", ({ a, b, x, y, v, w }) => {
    const fm = new FactoredMatrix(a, b);
    const ab = fm.materialize();
    expect(fm.shape).toEqual([a.shape[0], b.shape[1]]);
    expect(fm.innerDim).toBe(a.shape[1]);
    same(ab, dense(a, b), "materialize");
    same(fm.matmul(x).materialize(), dense(ab, x), "matmul");
    same(fm.leftMatmul(y).materialize(), dense(y, ab), "leftMatmul");
    same(fm.matvec(v.reshape([-1])), dense(ab, v.reshape([-1, 1])), "matvec");
    same(fm.vecmat(w.reshape([-1])), dense(w, ab), "vecmat");
    same(fm.T.materialize(), transposeOf(ab), "T");
    expect(fm.T.shape).toEqual([ab.shape[1], ab.shape[0]]);
    const other = new FactoredMatrix(x, transposeOf(x));
    same(fm.matmul(other).materialize(), dense(ab, other.materialize()), "matmul(FactoredMatrix)");
    const left = new FactoredMatrix(transposeOf(y), y);
    same(fm.leftMatmul(left).materialize(), dense(left.materialize(), ab), "leftMatmul(FactoredMatrix)");
  });

  test("products keep the inner dimension (nothing [m, n] is built)", () => {
    const fm = new FactoredMatrix(Tensor.zeros([50, 2]), Tensor.zeros([2, 40]));
    expect(fm.matmul(Tensor.zeros([40, 30])).innerDim).toBe(2);
    expect(fm.leftMatmul(Tensor.zeros([7, 50])).shape).toEqual([7, 40]);
  });

  test("factors and operands that do not fit are shape_mismatch", () => {
    const fm = new FactoredMatrix(Tensor.zeros([3, 2]), Tensor.zeros([2, 4]));
    const errors = [
      () => new FactoredMatrix(Tensor.zeros([3, 2]), Tensor.zeros([3, 4])),
      () => new FactoredMatrix(Tensor.zeros([3]), Tensor.zeros([3, 4])),
      () => fm.matmul(Tensor.zeros([3, 1])),
      () => fm.leftMatmul(Tensor.zeros([1, 4])),
      () => fm.matvec(Tensor.zeros([3])),
      () => fm.vecmat(Tensor.zeros([4])),
      () => fm.matmul(fm),
    ];
    for (const fn of errors) {
      expect(fn).toThrow(InputError);
      try {
        fn();
      } catch (error) {
        expect((error as InputError).code).toBe("shape_mismatch");
      }
    }
  });
});

function transposeOf(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const out = new Float32Array(t.size);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j]!;
  return new Tensor(out, [c, r]);
}
