/** The k largest values along an axis, as torch.topk gives them. */

import { InputError } from "../errors.ts";
import { normalizeAxis } from "./axes.ts";
import { shapeSize, shapeToString, Tensor } from "./tensor.ts";

export interface TopK {
  /** The k largest values along the axis, largest first. */
  readonly values: Tensor;
  /** Their indices along the axis (float32, exact below 2^24). */
  readonly indices: Tensor;
}

/**
 * The `k` largest values along `axis` (default: the last) and their indices, largest first; the
 * axis keeps its place with size k. NaN counts as larger than any number (as in torch); equal
 * values keep their order.
 */
export function topk(x: Tensor, k: number, axis = -1): TopK {
  const a = normalizeAxis(x.shape, axis, "topk");
  const dim = x.shape[a]!;
  if (!Number.isInteger(k) || k < 0 || k > dim) {
    throw new InputError(`topk: k = ${k} must be an integer in 0…${dim} (axis ${axis} of shape ${shapeToString(x.shape)})`, "bad_k");
  }
  const outer = shapeSize(x.shape.slice(0, a));
  const inner = shapeSize(x.shape.slice(a + 1));
  const shape = x.shape.map((d, i) => (i === a ? k : d));
  const values = new Float32Array(shapeSize(shape));
  const indices = new Float32Array(values.length);
  const order = new Array<number>(dim);
  const lane = new Float32Array(dim);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * dim * inner + i;
      for (let j = 0; j < dim; j++) {
        lane[j] = x.data[base + j * inner]!;
        order[j] = j;
      }
      // Array.prototype.sort is stable, so ties keep index order.
      order.sort((p, q) => {
        const vp = lane[p]!;
        const vq = lane[q]!;
        if (Number.isNaN(vp) || Number.isNaN(vq)) return Number.isNaN(vp) === Number.isNaN(vq) ? 0 : Number.isNaN(vp) ? -1 : 1;
        return vq > vp ? 1 : vq < vp ? -1 : 0;
      });
      for (let j = 0; j < k; j++) {
        const at = o * k * inner + j * inner + i;
        values[at] = lane[order[j]!]!;
        indices[at] = order[j]!;
      }
    }
  }
  return { values: new Tensor(values, shape), indices: new Tensor(indices, shape) };
}
