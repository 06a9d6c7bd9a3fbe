import { InputError } from "../errors.ts";
import { shapeToString, Tensor } from "../tensor/tensor.ts";
import type { Backend, PreparedWeight } from "./backend.ts";

/**
 * x [..., inDim] · W [inDim, outDim] (+ bias) → [..., outDim], into `out` when given (it must hold
 * exactly that many values and not overlap x).
 */
export function linear(
  backend: Backend, x: Tensor, w: PreparedWeight, bias?: Float32Array | null, out?: Float32Array, spare?: readonly Float32Array[],
): Tensor {
  const inDim = x.shape[x.rank - 1];
  if (inDim !== w.inDim) {
    throw new InputError(`linear: input ${shapeToString(x.shape)} does not end in ${w.inDim}`, "shape_mismatch");
  }
  const rows = x.size / w.inDim;
  if (out !== undefined && out.length !== rows * w.outDim) {
    throw new InputError(`linear: output buffer holds ${out.length} values, expected ${rows}·${w.outDim}`, "shape_mismatch");
  }
  out ??= new Float32Array(rows * w.outDim);
  backend.matmul(x.data, rows, w, out, bias, spare);
  return new Tensor(out, [...x.shape.slice(0, -1), w.outDim]);
}
