/**
 * The tensor core's elementwise ops and index shuffles against scijs ndarray / ndarray-ops, which
 * compute the same float32 results through strided views: every comparison is exact (NaN = NaN).
 */
import fc from "fast-check";
import ndarray from "ndarray";
import ops from "ndarray-ops";
import { describe, expect, it } from "vitest";
import { geluNew } from "../../src/tensor/activation.ts";
import { add, addBias, addInPlace, mul, scale, sub } from "../../src/tensor/elementwise.ts";
import { concatAxis, permute, selectAxis, sliceAxis } from "../../src/tensor/indexing.ts";
import { shapeSize, Tensor } from "../../src/tensor/tensor.ts";

const RUNS = { numRuns: 200 } as const;

/** Rank 1…4, dims 1…5. */
const shapes = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 });
/** Any float32, NaN, ±∞ and −0 included. */
const values = (n: number) => fc.array(fc.float(), { minLength: n, maxLength: n }).map((v) => Float32Array.from(v));
const tensorOf = (shape: number[]) => values(shapeSize(shape)).map((data) => new Tensor(data, shape));
const tensors = shapes.chain(tensorOf);
const tensorPairs = shapes.chain((shape) => fc.tuple(tensorOf(shape), tensorOf(shape)));

function sameFloat(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

function expectSameFloats(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!sameFloat(actual[i]!, expected[i]!)) {
      expect.fail(`${label}: element ${i} is ${actual[i]}, ndarray-ops gives ${expected[i]}`);
    }
  }
}

/** A fresh contiguous float32 ndarray of `shape`. */
function zeros(shape: readonly number[]) {
  return ndarray(new Float32Array(shapeSize(shape)), [...shape]);
}

/** Copies any (strided) view into contiguous row-major memory. */
function materialize(view: ndarray.NdArray<Float32Array>): Float32Array {
  const out = zeros(view.shape);
  ops.assign(out, view);
  return out.data;
}

describe("elementwise ops agree with ndarray-ops", () => {
  const binary = [
    ["add", add, ops.add],
    ["sub", sub, ops.sub],
    ["mul", mul, ops.mul],
  ] as const;
  for (const [name, ours, oracle] of binary) {
    it(`${name}`, () => {
      fc.assert(
        fc.property(tensorPairs, ([a, b]) => {
          const out = zeros(a.shape);
          oracle(out, a.toNdarray(), b.toNdarray());
          const result = ours(a, b);
          expect(result.shape).toEqual(a.shape);
          expectSameFloats(result.data, out.data, name);
        }),
        RUNS,
      );
    });
  }

  it("addInPlace matches addeq (and returns its first argument)", () => {
    fc.assert(
      fc.property(tensorPairs, ([a, b]) => {
        const copy = ndarray(a.data.slice(), [...a.shape]);
        ops.addeq(copy, b.toNdarray());
        expect(addInPlace(a, b)).toBe(a);
        expectSameFloats(a.data, copy.data, "addInPlace");
      }),
      RUNS,
    );
  });

  it("subeq / muleq agree with sub / mul", () => {
    fc.assert(
      fc.property(tensorPairs, ([a, b]) => {
        const difference = ndarray(a.data.slice(), [...a.shape]);
        ops.subeq(difference, b.toNdarray());
        expectSameFloats(sub(a, b).data, difference.data, "subeq");
        const product = ndarray(a.data.slice(), [...a.shape]);
        ops.muleq(product, b.toNdarray());
        expectSameFloats(mul(a, b).data, product.data, "muleq");
      }),
      RUNS,
    );
  });

  it("scale matches muls and mulseq", () => {
    fc.assert(
      fc.property(tensors, fc.oneof(fc.double(), fc.float()), (a, factor) => {
        const out = zeros(a.shape);
        ops.muls(out, a.toNdarray(), factor);
        const result = scale(a, factor);
        expectSameFloats(result.data, out.data, `scale by ${factor} (muls)`);
        const inPlace = ndarray(a.data.slice(), [...a.shape]);
        ops.mulseq(inPlace, factor);
        expectSameFloats(result.data, inPlace.data, `scale by ${factor} (mulseq)`);
      }),
      RUNS,
    );
  });

  it("addBias matches add against the bias broadcast with stride 0 over the leading axes", () => {
    const withBias = shapes.chain((shape) => fc.tuple(tensorOf(shape), values(shape[shape.length - 1]!)));
    fc.assert(
      fc.property(withBias, ([a, bias]) => {
        const broadcast = ndarray(bias, [...a.shape], [...a.shape.slice(0, -1).map(() => 0), 1]);
        const out = zeros(a.shape);
        ops.add(out, a.toNdarray(), broadcast);
        expectSameFloats(addBias(a, bias).data, out.data, "addBias");
      }),
      RUNS,
    );
  });

  it("geluNew is 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) rounded to float32", () => {
    const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * Math.pow(x, 3))));
    const inputs = fc.oneof(tensors, shapes.chain((shape) =>
      fc.array(fc.float({ min: -8, max: 8, noNaN: true }), { minLength: shapeSize(shape), maxLength: shapeSize(shape) })
        .map((v) => Tensor.from(v, shape)),
    ));
    fc.assert(
      fc.property(inputs, (x) => {
        const result = geluNew(x);
        expect(result.shape).toEqual(x.shape);
        for (let i = 0; i < x.size; i++) {
          const expected = Math.fround(gelu(x.data[i]!));
          const actual = result.data[i]!;
          if (sameFloat(actual, expected)) continue;
          // The oracle's 1 + tanh(u) cancels for u ≪ 0: its own absolute error is about |x|·2⁻⁵³.
          const tolerance = Math.max(2 ** -23 * Math.abs(expected), 2 ** -50 * Math.abs(x.data[i]!));
          expect(Math.abs(actual - expected), `gelu_new(${x.data[i]}) = ${actual}, formula ${expected}`).toBeLessThanOrEqual(tolerance);
        }
      }),
      RUNS,
    );
    expect(Array.from(geluNew(Tensor.from([0, 1, -1, 3], [4])).data)).toEqual(
      [0, 0.8411920070648193, -0.15880800783634186, 2.9963626861572266],
    );
  });
});

describe("index shuffles agree with ndarray views", () => {
  it("permute equals ndarray's transpose", () => {
    const withPerm = tensors.chain((t) =>
      fc.tuple(fc.constant(t), fc.shuffledSubarray([...t.shape.keys()], { minLength: t.rank, maxLength: t.rank })),
    );
    fc.assert(
      fc.property(withPerm, ([t, perm]) => {
        const view = t.toNdarray().transpose(...perm);
        const result = permute(t, perm);
        expect(result.shape).toEqual(view.shape);
        expectSameFloats(result.data, materialize(view), `permute [${perm}] of [${t.shape}]`);
      }),
      RUNS,
    );
  });

  it("sliceAxis equals .lo().hi() on that axis", () => {
    const withSlice = tensors.chain((t) =>
      fc.integer({ min: 0, max: t.rank - 1 }).chain((axis) =>
        fc
          .tuple(fc.integer({ min: 0, max: t.shape[axis]! }), fc.integer({ min: 0, max: t.shape[axis]! }))
          .map(([x, y]) => [t, axis, Math.min(x, y), Math.max(x, y)] as const),
      ),
    );
    fc.assert(
      fc.property(withSlice, ([t, axis, start, end]) => {
        const other = -1; // ndarray's lo/hi leave axes given a negative bound untouched
        const view = t
          .toNdarray()
          .lo(...t.shape.map((_, i) => (i === axis ? start : other)))
          .hi(...t.shape.map((_, i) => (i === axis ? end - start : other)));
        const result = sliceAxis(t, axis, start, end);
        expect(result.shape).toEqual(view.shape);
        expectSameFloats(result.data, materialize(view), `slice [${start}, ${end}) of axis ${axis} of [${t.shape}]`);
      }),
      RUNS,
    );
  });

  it("concatAxis equals ops.assign of each part into its .lo().hi() window", () => {
    const parts = shapes.chain((shape) =>
      fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
        fc
          .array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 })
          .chain((sizes) => fc.tuple(...sizes.map((size) => tensorOf(shape.map((d, i) => (i === axis ? size : d))))))
          .map((tensors) => [tensors, axis] as const),
      ),
    );
    fc.assert(
      fc.property(parts, ([tensors, axis]) => {
        const result = concatAxis(tensors, axis);
        const expected = zeros(result.shape);
        let at = 0;
        for (const t of tensors) {
          const window = expected
            .lo(...t.shape.map((_, i) => (i === axis ? at : -1)))
            .hi(...t.shape.map((d, i) => (i === axis ? d : -1)));
          if (t.size > 0) ops.assign(window, t.toNdarray());
          at += t.shape[axis]!;
        }
        expectSameFloats(result.data, expected.data, `concat along ${axis} of ${tensors.map((t) => `[${t.shape}]`).join(", ")}`);
      }),
      RUNS,
    );
    expect(() => concatAxis([new Tensor(new Float32Array(6), [2, 3]), new Tensor(new Float32Array(4), [2, 2])], 0)).toThrow(/axis 0.*tensor 1/);
  });

  it("selectAxis equals .pick() on that axis", () => {
    const withIndex = tensors.chain((t) =>
      fc.integer({ min: 0, max: t.rank - 1 }).chain((axis) =>
        fc.integer({ min: 0, max: t.shape[axis]! - 1 }).map((index) => [t, axis, index] as const),
      ),
    );
    fc.assert(
      fc.property(withIndex, ([t, axis, index]) => {
        const view = t.toNdarray().pick(...t.shape.map((_, i) => (i === axis ? index : null)));
        const result = selectAxis(t, axis, index);
        expect(result.shape).toEqual(view.shape);
        expectSameFloats(result.data, materialize(view), `select ${index} of axis ${axis} of [${t.shape}]`);
      }),
      RUNS,
    );
  });
});

describe("toNdarray", () => {
  const withIndex = tensors.chain((t) =>
    fc.tuple(fc.constant(t), fc.tuple(...t.shape.map((dim) => fc.integer({ min: 0, max: dim - 1 }))), fc.float({ noNaN: true })),
  );

  it("is a view sharing the tensor's memory, both ways", () => {
    fc.assert(
      fc.property(withIndex, ([t, index, value]) => {
        const view = t.toNdarray();
        expect(view.shape).toEqual(t.shape);
        expect(view.data).toBe(t.data);
        view.set(...index, value);
        expect(Object.is(t.get(...index), value), `tensor sees the write through the view at [${index}]`).toBe(true);
        t.set(index, -value);
        expect(Object.is(view.get(...index), -value), `view sees the tensor's write at [${index}]`).toBe(true);
        const before = t.data.slice();
        ops.mulseq(view, 2);
        expectSameFloats(t.data, before.map((x) => x * 2), "ndarray-ops writes land in the tensor");
      }),
      RUNS,
    );
  });

  it("shares memory for a tensor over a subarray of a larger buffer", () => {
    const buffer = new Float32Array(20).fill(7);
    const t = new Tensor(buffer.subarray(4, 16), [3, 4]);
    const view = t.toNdarray();
    view.set(2, 3, -1);
    expect(buffer[4 + 11]).toBe(-1);
    expect(t.get(2, 3)).toBe(-1);
    expect(buffer[16]).toBe(7);
    expect(ops.sum(view)).toBe(7 * 11 - 1);
  });
});
