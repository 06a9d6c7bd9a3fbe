import { InputError } from "../errors.ts";
import type { ForwardKernels } from "./forward-kernels.ts";
import { Tensor } from "./tensor.ts";

/**
 * Softmax over the last axis. Entries of −∞ get probability 0; a row that is all −∞ is an error.
 * `inPlace` overwrites x's data (for a caller that no longer needs x).
 */
export function softmaxLastAxis(x: Tensor, kernels?: ForwardKernels, inPlace = false): Tensor {
  const width = x.shape[x.rank - 1] ?? 0;
  const out = inPlace ? x.data : new Float32Array(x.size);
  const src = x.data;
  if (kernels?.softmaxRows && width > 0) {
    if (!kernels.softmaxRows(src, width, out)) throw new InputError("softmax over a row that is entirely -Infinity", "bad_scores");
    return new Tensor(out, x.shape);
  }
  for (let base = 0; base < out.length; base += width) {
    let max = -Infinity;
    for (let j = 0; j < width; j++) if (src[base + j]! > max) max = src[base + j]!;
    if (max === -Infinity) throw new InputError("softmax over a row that is entirely -Infinity", "bad_scores");
    let sum = 0;
    for (let j = 0; j < width; j++) {
      const e = Math.exp(src[base + j]! - max);
      out[base + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < width; j++) out[base + j]! *= inv;
  }
  return new Tensor(out, x.shape);
}

/** Sets entries above the diagonal of the last two axes ([..., query, key]) to −∞, in place. */
export function applyCausalMaskInPlace(scores: Tensor): Tensor {
  const keys = scores.shape[scores.rank - 1]!;
  const queries = scores.shape[scores.rank - 2]!;
  const queryOffset = keys - queries;
  const data = scores.data;
  for (let base = 0; base < data.length; base += queries * keys) {
    for (let q = 0; q < queries; q++) {
      const row = base + q * keys;
      for (let k = q + queryOffset + 1; k < keys; k++) data[row + k] = -Infinity;
    }
  }
  return scores;
}
