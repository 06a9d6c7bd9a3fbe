import { InputError } from "../errors.ts";
import { shapeSize, shapeToString, Tensor } from "./tensor.ts";

/** Rows of a [rows, width] table picked by ids → [...idsShape, width]. */
export function gatherRows(table: Float32Array, width: number, ids: ArrayLike<number>, idsShape: readonly number[]): Tensor {
  const rows = table.length / width;
  const out = new Float32Array(ids.length * width);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= rows) {
      throw new InputError(`id ${id} at index ${i} is outside [0, ${rows})`, "index_out_of_range");
    }
    out.set(table.subarray(id * width, (id + 1) * width), i * width);
  }
  return new Tensor(out, [...idsShape, width]);
}

function checkAxis(x: Tensor, axis: number): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= x.rank) {
    throw new InputError(`axis ${axis} out of range for shape ${shapeToString(x.shape)}`, "bad_axis");
  }
}

/** x[..., start:end, ...] along `axis` (a copy). */
export function sliceAxis(x: Tensor, axis: number, start: number, end: number): Tensor {
  checkAxis(x, axis);
  const dim = x.shape[axis]!;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > dim || start > end) {
    throw new InputError(`slice [${start}, ${end}) out of range for axis ${axis} of size ${dim}`, "index_out_of_range");
  }
  const outer = shapeSize(x.shape.slice(0, axis));
  const inner = shapeSize(x.shape.slice(axis + 1));
  const count = end - start;
  const out = new Float32Array(outer * count * inner);
  for (let o = 0; o < outer; o++) {
    const from = (o * dim + start) * inner;
    out.set(x.data.subarray(from, from + count * inner), o * count * inner);
  }
  const shape = [...x.shape];
  shape[axis] = count;
  return new Tensor(out, shape);
}

/** x[..., index, ...]: drops `axis`. */
export function selectAxis(x: Tensor, axis: number, index: number): Tensor {
  const sliced = sliceAxis(x, axis, index, index + 1);
  return sliced.reshape(x.shape.filter((_, i) => i !== axis));
}

/** Gathers `indices` along `axis` (a copy); the axis keeps its place with size indices.length. */
export function takeAxis(x: Tensor, axis: number, indices: readonly number[]): Tensor {
  checkAxis(x, axis);
  const dim = x.shape[axis]!;
  const outer = shapeSize(x.shape.slice(0, axis));
  const inner = shapeSize(x.shape.slice(axis + 1));
  const out = new Float32Array(outer * indices.length * inner);
  for (let o = 0; o < outer; o++) {
    indices.forEach((index, k) => {
      if (!Number.isInteger(index) || index < 0 || index >= dim) {
        throw new InputError(`index ${index} out of range for axis ${axis} of size ${dim}`, "index_out_of_range");
      }
      const from = (o * dim + index) * inner;
      out.set(x.data.subarray(from, from + inner), (o * indices.length + k) * inner);
    });
  }
  const shape = [...x.shape];
  shape[axis] = indices.length;
  return new Tensor(out, shape);
}

/** Axis permutation (a copy): out.shape[i] = x.shape[perm[i]]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new InputError(`permutation [${perm.join(", ")}] does not fit shape ${shapeToString(x.shape)}`, "bad_axis");
  }
  const shape = perm.map((p) => x.shape[p]!);
  const srcStrides = x.strides();
  const permutedStrides = perm.map((p) => srcStrides[p]!);
  const out = new Float32Array(x.size);
  const index = new Array<number>(x.rank).fill(0);
  let src = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = x.data[src]!;
    for (let axis = x.rank - 1; axis >= 0; axis--) {
      index[axis]!++;
      src += permutedStrides[axis]!;
      if (index[axis]! < shape[axis]!) break;
      src -= permutedStrides[axis]! * shape[axis]!;
      index[axis] = 0;
    }
  }
  return new Tensor(out, shape);
}

/** Stacks equally shaped tensors along a new leading axis. */
export function stack(tensors: readonly Tensor[]): Tensor {
  if (tensors.length === 0) throw new InputError("stack of no tensors", "bad_shape");
  const shape = tensors[0]!.shape;
  const out = new Float32Array(tensors.length * tensors[0]!.size);
  tensors.forEach((t, i) => {
    if (t.shape.length !== shape.length || t.shape.some((d, j) => d !== shape[j])) {
      throw new InputError(`stack: tensor ${i} has shape ${shapeToString(t.shape)}, expected ${shapeToString(shape)}`, "shape_mismatch");
    }
    out.set(t.data, i * t.size);
  });
  return new Tensor(out, [tensors.length, ...shape]);
}

/** Concatenates along axis 0. */
export function concatRows(tensors: readonly Tensor[]): Tensor {
  if (tensors.length === 0) throw new InputError("concat of no tensors", "bad_shape");
  const rest = tensors[0]!.shape.slice(1);
  let rows = 0;
  for (const [i, t] of tensors.entries()) {
    if (t.rank !== rest.length + 1 || t.shape.slice(1).some((d, j) => d !== rest[j])) {
      throw new InputError(`concat: tensor ${i} has shape ${shapeToString(t.shape)}, expected [*, ${rest.join(", ")}]`, "shape_mismatch");
    }
    rows += t.shape[0]!;
  }
  const out = new Float32Array(rows * shapeSize(rest));
  let offset = 0;
  for (const t of tensors) {
    out.set(t.data, offset);
    offset += t.size;
  }
  return new Tensor(out, [rows, ...rest]);
}

/** Concatenates along `axis`; every other axis must match. */
export function concatAxis(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new InputError("concat of no tensors", "bad_shape");
  const first = tensors[0]!;
  checkAxis(first, axis);
  let total = 0;
  for (const [i, t] of tensors.entries()) {
    if (t.rank !== first.rank || t.shape.some((d, j) => j !== axis && d !== first.shape[j])) {
      throw new InputError(
        `concat along axis ${axis}: tensor ${i} has shape ${shapeToString(t.shape)}, tensor 0 has ${shapeToString(first.shape)}`,
        "shape_mismatch",
      );
    }
    total += t.shape[axis]!;
  }
  const outer = shapeSize(first.shape.slice(0, axis));
  const inner = shapeSize(first.shape.slice(axis + 1));
  const out = new Float32Array(outer * total * inner);
  for (let o = 0; o < outer; o++) {
    let at = o * total * inner;
    for (const t of tensors) {
      const block = t.shape[axis]! * inner;
      out.set(t.data.subarray(o * block, (o + 1) * block), at);
      at += block;
    }
  }
  const shape = [...first.shape];
  shape[axis] = total;
  return new Tensor(out, shape);
}
