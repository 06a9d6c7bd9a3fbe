import { InputError } from "../errors.ts";
import type { ForwardKernels } from "./forward-kernels.ts";
import { sameShape, shapeToString, Tensor } from "./tensor.ts";

function assertSameShape(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) {
    throw new InputError(`${op}: shapes ${shapeToString(a.shape)} and ${shapeToString(b.shape)} differ`, "shape_mismatch");
  }
}

export function add(a: Tensor, b: Tensor): Tensor {
  assertSameShape("add", a, b);
  const out = new Float32Array(a.size);
  const x = a.data, y = b.data;
  for (let i = 0; i < out.length; i++) out[i] = x[i]! + y[i]!;
  return new Tensor(out, a.shape);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  assertSameShape("sub", a, b);
  const out = new Float32Array(a.size);
  const x = a.data, y = b.data;
  for (let i = 0; i < out.length; i++) out[i] = x[i]! - y[i]!;
  return new Tensor(out, a.shape);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  assertSameShape("mul", a, b);
  const out = new Float32Array(a.size);
  const x = a.data, y = b.data;
  for (let i = 0; i < out.length; i++) out[i] = x[i]! * y[i]!;
  return new Tensor(out, a.shape);
}

export function scale(a: Tensor, factor: number): Tensor {
  const out = new Float32Array(a.size);
  const x = a.data;
  for (let i = 0; i < out.length; i++) out[i] = x[i]! * factor;
  return new Tensor(out, a.shape);
}

/** a += b, in place. */
export function addInPlace(a: Tensor, b: Tensor, kernels?: ForwardKernels): Tensor {
  assertSameShape("addInPlace", a, b);
  const x = a.data, y = b.data;
  if (kernels?.addInPlace) {
    kernels.addInPlace(x, y);
    return a;
  }
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + y[i]!;
  return a;
}

/** Adds a vector along the last axis: out[..., j] = a[..., j] + bias[j]. */
export function addBias(a: Tensor, bias: Float32Array): Tensor {
  const width = a.shape[a.rank - 1] ?? 1;
  if (bias.length !== width) {
    throw new InputError(`addBias: bias of length ${bias.length} for last axis of size ${width}`, "shape_mismatch");
  }
  const out = new Float32Array(a.size);
  const x = a.data;
  for (let i = 0; i < out.length; i += width) {
    for (let j = 0; j < width; j++) out[i + j] = x[i + j]! + bias[j]!;
  }
  return new Tensor(out, a.shape);
}
