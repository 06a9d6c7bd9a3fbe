import ndarray from "ndarray";
import { InputError } from "../errors.ts";
import { formatTensor } from "./format.ts";
import { tensorHtml } from "./html.ts";
import { argmax, argmin, type Axes, max, mean, min, sum } from "./reduce.ts";
import { slice, type SliceIndex } from "./slice.ts";
import { topk, type TopK } from "./topk.ts";

/** A tensor's values as nested arrays (a number for a rank-0 tensor). */
export type NestedNumbers = number | NestedNumbers[];

export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

export function shapeToString(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}

/** A dense, row-major float32 tensor. `data` may be a view into a larger buffer. */
export class Tensor {
  readonly data: Float32Array;
  readonly shape: Shape;

  constructor(data: Float32Array, shape: Shape) {
    for (const dim of shape) {
      if (!Number.isInteger(dim) || dim < 0) {
        throw new InputError(`tensor shape ${shapeToString(shape)} has an invalid dimension ${dim}`, "bad_shape");
      }
    }
    if (data.length !== shapeSize(shape)) {
      throw new InputError(
        `tensor data has ${data.length} elements but shape ${shapeToString(shape)} needs ${shapeSize(shape)}`,
        "bad_shape",
      );
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
  }

  static zeros(shape: Shape): Tensor {
    return new Tensor(new Float32Array(shapeSize(shape)), shape);
  }

  static from(values: ArrayLike<number>, shape: Shape): Tensor {
    return new Tensor(Float32Array.from(values), shape);
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Same data, new shape (no copy). One dimension may be -1. */
  reshape(shape: Shape): Tensor {
    const known = shape.filter((d) => d !== -1);
    const inferred = shape.length - known.length;
    if (inferred > 1) throw new InputError(`reshape: at most one -1 allowed in ${shapeToString(shape)}`, "bad_shape");
    const resolved = inferred ? shape.map((d) => (d === -1 ? this.size / shapeSize(known) : d)) : shape;
    if (shapeSize(resolved) !== this.size || resolved.some((d) => !Number.isInteger(d))) {
      throw new InputError(
        `cannot reshape ${shapeToString(this.shape)} (${this.size} elements) to ${shapeToString(shape)}`,
        "bad_shape",
      );
    }
    return new Tensor(this.data, resolved);
  }

  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** Row-major strides of this tensor's shape. */
  strides(): number[] {
    const strides = new Array<number>(this.rank);
    let stride = 1;
    for (let i = this.rank - 1; i >= 0; i--) {
      strides[i] = stride;
      stride *= this.shape[i]!;
    }
    return strides;
  }

  get(...index: number[]): number {
    return this.data[this.offsetOf(index)]!;
  }

  set(index: readonly number[], value: number): void {
    this.data[this.offsetOf(index)] = value;
  }

  private offsetOf(index: readonly number[]): number {
    if (index.length !== this.rank) {
      throw new InputError(`index of length ${index.length} for a tensor of rank ${this.rank}`, "bad_index");
    }
    let offset = 0;
    for (let i = 0; i < this.rank; i++) {
      const dim = this.shape[i]!;
      const at = index[i]!;
      if (!Number.isInteger(at) || at < 0 || at >= dim) {
        throw new InputError(`index ${at} out of range for axis ${i} of size ${dim}`, "bad_index");
      }
      offset = offset * dim + at;
    }
    return offset;
  }

  /** A scijs `ndarray` view sharing this tensor's memory. */
  toNdarray(): ndarray.NdArray<Float32Array> {
    return ndarray(this.data, [...this.shape]);
  }

  /** The values as nested arrays, e.g. `[[1, 2], [3, 4]]` (like torch's `tolist()`). */
  toNested(): NestedNumbers {
    const build = (axis: number, offset: number): NestedNumbers => {
      if (axis === this.rank) return this.data[offset]!;
      const stride = shapeSize(this.shape.slice(axis + 1));
      return Array.from({ length: this.shape[axis]! }, (_, i) => build(axis + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /** @deprecated use {@link toNested} */
  toNestedArray(): NestedNumbers {
    return this.toNested();
  }

  // Everyday operations (numpy / torch semantics); each lives in its own module of src/tensor.

  /** numpy-style indexing: `t.slice([0, [2, -1], null])` is `t[0, 2:-1, :]` (a copy; see SliceIndex). */
  slice(spec: readonly SliceIndex[]): Tensor {
    return slice(this, spec);
  }

  /** Sum of all values, or over `axis` (a number, a list, or null for all) keeping the axes with size 1 if `keepdims`. */
  sum(): number;
  sum(axis: Axes, keepdims?: boolean): Tensor;
  sum(axis?: Axes, keepdims?: boolean): Tensor | number {
    return axis === undefined ? sum(this) : sum(this, axis, keepdims);
  }

  mean(): number;
  mean(axis: Axes, keepdims?: boolean): Tensor;
  mean(axis?: Axes, keepdims?: boolean): Tensor | number {
    return axis === undefined ? mean(this) : mean(this, axis, keepdims);
  }

  max(): number;
  max(axis: Axes, keepdims?: boolean): Tensor;
  max(axis?: Axes, keepdims?: boolean): Tensor | number {
    return axis === undefined ? max(this) : max(this, axis, keepdims);
  }

  min(): number;
  min(axis: Axes, keepdims?: boolean): Tensor;
  min(axis?: Axes, keepdims?: boolean): Tensor | number {
    return axis === undefined ? min(this) : min(this, axis, keepdims);
  }

  /** Flat index of the largest value, or the indices of the largest along `axis`. */
  argmax(): number;
  argmax(axis: number, keepdims?: boolean): Tensor;
  argmax(axis?: number, keepdims?: boolean): Tensor | number {
    return axis === undefined ? argmax(this) : argmax(this, axis, keepdims);
  }

  argmin(): number;
  argmin(axis: number, keepdims?: boolean): Tensor;
  argmin(axis?: number, keepdims?: boolean): Tensor | number {
    return axis === undefined ? argmin(this) : argmin(this, axis, keepdims);
  }

  /** The k largest values along `axis` (default last) and their indices, largest first (torch.topk). */
  topk(k: number, axis = -1): TopK {
    return topk(this, k, axis);
  }

  // Display: String(t), console.log in Node and Deno, and rich output in Jupyter kernels.

  /** Shape, dtype and the values, long axes elided numpy-style. */
  toString(): string {
    return formatTensor(this.data, this.shape);
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  [Symbol.for("Jupyter.display")](): Record<string, string> {
    return { "text/plain": this.toString(), "text/html": tensorHtml(this.data, this.shape) };
  }
}
