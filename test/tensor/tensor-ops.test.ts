/**
 * Reductions, argmax/argmin, topk and slicing against scijs ndarray / ndarray-ops as an independent
 * oracle: each output element is the oracle applied to the ndarray lane (a `pick` view) it reduces,
 * and each slice is read element by element through ndarray views.
 */
import fc from "fast-check";
import ndarray from "ndarray";
import ops from "ndarray-ops";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { shapeSize, Tensor } from "../../src/tensor/tensor.ts";
import type { SliceIndex } from "../../src/tensor/slice.ts";

const RUNS = { numRuns: 200 } as const;
const shapes = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 });
/** Finite float32 values with many ties (ndarray-ops' argmax cannot see NaN). */
const finite = (n: number) =>
  fc
    .array(fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), fc.integer({ min: -2, max: 2 })), { minLength: n, maxLength: n })
    .map((v) => Float32Array.from(v));
const tensors = shapes.chain((shape) => finite(shapeSize(shape)).map((data) => new Tensor(data, shape)));
const tensorAndAxis = tensors.chain((t) => fc.tuple(fc.constant(t), fc.integer({ min: -t.rank, max: t.rank - 1 })));

/** Every index of `shape` in row-major order. */
function* indices(shape: readonly number[]): Generator<number[]> {
  const index = new Array<number>(shape.length).fill(0);
  if (shape.some((d) => d === 0)) return;
  for (;;) {
    yield [...index];
    let axis = shape.length - 1;
    while (axis >= 0 && ++index[axis]! === shape[axis]) index[axis--] = 0;
    if (axis < 0) return;
  }
}

/** The ndarray view of x along `axis` at the other axes' positions given by `outIndex` (axis removed). */
function lane(x: Tensor, axis: number, outIndex: readonly number[]) {
  const pick: (number | null)[] = [...outIndex];
  pick.splice(axis, 0, null);
  return x.toNdarray().pick(...(pick as number[]));
}

describe("reductions over one axis agree with ndarray-ops on each lane", () => {
  const cases = [
    ["sum", (t: Tensor, a: number) => t.sum(a), (v: ReturnType<typeof lane>) => Math.fround(ops.sum(v))],
    ["mean", (t: Tensor, a: number) => t.mean(a), (v: ReturnType<typeof lane>) => Math.fround(ops.sum(v) / v.size)],
    ["max", (t: Tensor, a: number) => t.max(a), (v: ReturnType<typeof lane>) => ops.sup(v)],
    ["min", (t: Tensor, a: number) => t.min(a), (v: ReturnType<typeof lane>) => ops.inf(v)],
    ["argmax", (t: Tensor, a: number) => t.argmax(a), (v: ReturnType<typeof lane>) => ops.argmax(v)[0]!],
    ["argmin", (t: Tensor, a: number) => t.argmin(a), (v: ReturnType<typeof lane>) => ops.argmin(v)[0]!],
  ] as const;
  for (const [name, ours, oracle] of cases) {
    it(name, () => {
      fc.assert(
        fc.property(tensorAndAxis, ([t, axis]) => {
          const a = axis < 0 ? axis + t.rank : axis;
          const out = ours(t, axis);
          expect(out.shape).toEqual(t.shape.filter((_, i) => i !== a));
          for (const index of indices(out.shape)) {
            expect(out.get(...index), `${name} at [${index}]`).toBe(oracle(lane(t, a, index)));
          }
        }),
        RUNS,
      );
    });
  }

  it("keepdims keeps the axis with size 1 and the same values", () => {
    fc.assert(
      fc.property(tensorAndAxis, ([t, axis]) => {
        const a = axis < 0 ? axis + t.rank : axis;
        for (const name of ["sum", "mean", "max", "min"] as const) {
          const kept = t[name](axis, true);
          expect(kept.shape).toEqual(t.shape.map((d, i) => (i === a ? 1 : d)));
          expect(kept.data).toEqual(t[name](axis).data);
        }
        expect(t.argmax(axis, true).data).toEqual(t.argmax(axis).data);
      }),
      RUNS,
    );
  });
});

describe("reductions over several or all axes", () => {
  it("with no axis they give numbers equal to ndarray-ops over the whole tensor", () => {
    fc.assert(
      fc.property(tensors, (t) => {
        const nd = t.toNdarray();
        expect(t.max()).toBe(ops.sup(nd));
        expect(t.min()).toBe(ops.inf(nd));
        expect(t.sum()).toBe(Math.fround(ops.sum(nd)));
        const flat = ndarray(t.data, [t.size]);
        expect(t.argmax()).toBe(ops.argmax(flat)[0]);
        expect(t.argmin()).toBe(ops.argmin(flat)[0]);
      }),
      RUNS,
    );
  });

  it("a list of axes equals reducing them one after the other", () => {
    const small = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 4 }).chain((shape) =>
      fc.array(fc.integer({ min: -8, max: 8 }), { minLength: shapeSize(shape), maxLength: shapeSize(shape) }).map((v) => Tensor.from(v, shape)),
    );
    fc.assert(
      fc.property(small, fc.infiniteStream(fc.boolean()), (t, picks) => {
        const axes = t.shape.map((_, i) => i).filter(() => picks.next().value);
        const once = t.max(axes);
        const stepwise = [...axes].reverse().reduce((acc, axis) => acc.max(axis), t);
        expect(once.shape).toEqual(stepwise.shape);
        expect(once.data).toEqual(stepwise.data);
        // Small integers sum exactly, in any order.
        expect(t.sum(axes).data).toEqual([...axes].reverse().reduce((acc, axis) => acc.sum(axis), t).data);
        expect(t.sum(null, true).shape).toEqual(t.shape.map(() => 1));
        expect(t.sum(null).shape).toEqual([]);
      }),
      RUNS,
    );
  });

  it("NaN propagates through max/min and wins argmax/argmin, as in numpy", () => {
    const t = Tensor.from([1, NaN, 3, 4, 5, 6], [2, 3]);
    expect(t.max()).toBeNaN();
    expect(Array.from(t.max(1).data)).toEqual([NaN, 6]);
    expect(Array.from(t.min(0).data)).toEqual([1, NaN, 3]);
    expect(t.argmax()).toBe(1);
    expect(Array.from(t.argmin(1).data)).toEqual([1, 0]);
    expect(Tensor.from([2, 7, 7, 1], [4]).argmax()).toBe(1);
  });

  it("bad axes and empty reductions are InputErrors", () => {
    const t = Tensor.zeros([2, 3]);
    expect(() => t.sum(2)).toThrow(InputError);
    expect(() => t.sum(-3)).toThrow(/axis -3 out of range for shape \[2, 3\]/);
    expect(() => t.sum([0, -2])).toThrow(/repeated axis/);
    expect(() => t.argmax(0.5)).toThrow(expect.objectContaining({ code: "bad_axis" }));
    expect(() => Tensor.zeros([2, 0]).max(1)).toThrow(expect.objectContaining({ code: "empty_reduction" }));
    expect(() => Tensor.zeros([0]).argmax()).toThrow(expect.objectContaining({ code: "empty_reduction" }));
    expect(Tensor.zeros([2, 0]).sum(1).data).toEqual(new Float32Array(2));
  });
});

describe("topk", () => {
  it("gives each lane's k largest values, largest first, ties in index order, and their indices", () => {
    fc.assert(
      fc.property(tensorAndAxis.chain(([t, axis]) => fc.tuple(fc.constant(t), fc.constant(axis), fc.integer({ min: 0, max: t.shape.at(axis)! }))), ([t, axis, k]) => {
        const a = axis < 0 ? axis + t.rank : axis;
        const { values, indices: idx } = t.topk(k, axis);
        expect(values.shape).toEqual(t.shape.map((d, i) => (i === a ? k : d)));
        const outShape = t.shape.filter((_, i) => i !== a);
        for (const index of indices(outShape)) {
          const view = lane(t, a, index);
          const expected = Array.from({ length: view.size }, (_, j) => ({ j, v: view.get(j) }))
            .sort((p, q) => q.v - p.v || p.j - q.j)
            .slice(0, k);
          const at = (j: number) => {
            const full = [...index];
            full.splice(a, 0, j);
            return full;
          };
          expect(expected.map((_, j) => values.get(...at(j)))).toEqual(expected.map((e) => e.v));
          expect(expected.map((_, j) => idx.get(...at(j)))).toEqual(expected.map((e) => e.j));
        }
        if (k === 1) expect(idx.reshape(outShape).data).toEqual(t.argmax(axis).data);
      }),
      RUNS,
    );
  });

  it("counts NaN as the largest and rejects a k outside 0…dim", () => {
    const { values, indices } = Tensor.from([1, NaN, 3], [3]).topk(2);
    expect(Array.from(values.data)).toEqual([NaN, 3]);
    expect(Array.from(indices.data)).toEqual([1, 2]);
    expect(() => Tensor.zeros([2, 3]).topk(4)).toThrow(expect.objectContaining({ code: "bad_k" }));
    expect(() => Tensor.zeros([2, 3]).topk(1, 2)).toThrow(expect.objectContaining({ code: "bad_axis" }));
  });
});

/** A spec entry for an axis of size `dim`: index, whole axis, or a forward range with clamped bounds. */
const entryFor = (dim: number): fc.Arbitrary<SliceIndex> =>
  fc.oneof(
    fc.integer({ min: -dim, max: dim - 1 }),
    fc.constant(null),
    fc.tuple(
      fc.option(fc.integer({ min: -dim - 2, max: dim + 2 })),
      fc.option(fc.integer({ min: -dim - 2, max: dim + 2 })),
      fc.option(fc.integer({ min: 1, max: 3 })),
    ),
  );

/** The positions a forward entry takes, by Array.prototype.slice (same clamping as Python for step > 0). */
function positions(entry: SliceIndex, dim: number): number[] | number {
  if (typeof entry === "number") return entry < 0 ? entry + dim : entry;
  const all = Array.from({ length: dim }, (_, i) => i);
  if (entry === null || entry === "...") return all;
  const [start, end, step] = entry;
  return all.slice(start ?? undefined, end ?? undefined).filter((_, i) => i % (step ?? 1) === 0);
}

describe("slice", () => {
  it("reads the elements ndarray reads at the selected positions (numbers drop their axis)", () => {
    const cases = tensors.chain((t) => fc.tuple(fc.constant(t), fc.tuple(...t.shape.map(entryFor)), fc.nat(t.rank)));
    fc.assert(
      fc.property(cases, ([t, fullSpec, length]) => {
        const spec = fullSpec.slice(0, length);
        const picked = t.shape.map((dim, axis) => positions(axis < spec.length ? spec[axis]! : null, dim));
        const kept = picked.filter((p): p is number[] => Array.isArray(p));
        const out = t.slice(spec);
        expect(out.shape).toEqual(kept.map((p) => p.length));
        const nd = t.toNdarray();
        for (const index of indices(out.shape)) {
          let k = 0;
          const source = picked.map((p) => (Array.isArray(p) ? p[index[k++]!]! : p));
          expect(out.get(...index)).toBe(nd.get(...source));
        }
      }),
      RUNS,
    );
  });

  it("takes negative steps and '...' as numpy does", () => {
    const a = Tensor.from(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
    // Expected values printed by numpy for np.arange(24).reshape(2, 3, 4).
    expect(a.slice([null, [null, null, -1], -1]).toNested()).toEqual([[11, 7, 3], [23, 19, 15]]);
    expect(a.slice([1, [2, 0, -1], [null, null, -2]]).toNested()).toEqual([[23, 21], [19, 17]]);
    expect(a.slice(["...", [-10, 2]]).toNested()).toEqual([[[0, 1], [4, 5], [8, 9]], [[12, 13], [16, 17], [20, 21]]]);
    expect(a.slice([-1, [5, null, -2], 1]).toNested()).toEqual([21, 13]);
    expect(a.slice([0, [null, -1, -1]]).shape).toEqual([0, 4]);
    expect(a.slice([0, "...", 0]).toNested()).toEqual([0, 4, 8]);
    expect(a.slice([]).toNested()).toEqual(a.toNested());
    expect(a.slice([1, 2, 3]).shape).toEqual([]);
  });

  it("rejects bad specs with InputErrors naming the problem", () => {
    const a = Tensor.zeros([2, 3]);
    expect(() => a.slice([2])).toThrow(expect.objectContaining({ code: "index_out_of_range" }));
    expect(() => a.slice([-3])).toThrow(/index -3 out of range for axis 0 of size 2/);
    expect(() => a.slice([0, 0, 0])).toThrow(/3 entries for a tensor of shape \[2, 3\]/);
    expect(() => a.slice([[0, 1, 0]])).toThrow(/step 0/);
    expect(() => a.slice(["...", "..."])).toThrow(/at most one/);
    expect(() => a.slice([[0.5, 1]])).toThrow(expect.objectContaining({ code: "bad_slice" }));
    expect(() => a.slice(["x" as unknown as SliceIndex])).toThrow(/not an index, null, a range/);
    expect(() => a.slice(0 as unknown as SliceIndex[])).toThrow(/must be an array/);
  });
});

describe("toNested", () => {
  it("nests like the shape and reads every element like ndarray", () => {
    fc.assert(
      fc.property(tensors, (t) => {
        const nested = t.toNested();
        const nd = t.toNdarray();
        for (const index of indices(t.shape)) {
          const value = index.reduce<unknown>((acc, i) => (acc as unknown[])[i], nested);
          expect(value).toBe(nd.get(...index));
        }
      }),
      RUNS,
    );
    expect(Tensor.from([5], []).toNested()).toBe(5);
  });
});
