import type { ForwardKernels } from "../../tensor/forward-kernels.ts";
import { softmaxLastAxis } from "../../tensor/softmax.ts";
import type { Tensor } from "../../tensor/tensor.ts";

/**
 * A padded batch's attention mask, [batch, keys] with 1 for a real token and 0 for padding, over
 * every key position of a pass (`past` positions first, then the pass's own).
 */
export interface KeyMask {
  readonly data: ArrayLike<number>;
  readonly batch: number;
  readonly keys: number;
}

/** Sets the scores [b, head, query, key] of padded keys to −∞ for every query, in place. */
export function maskPaddedKeys(scores: Tensor, mask: KeyMask): Tensor {
  const [batch, nHeads, pos, keys] = scores.shape as [number, number, number, number];
  const data = scores.data;
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < keys; j++) {
      if (mask.data[b * keys + j] !== 0) continue;
      for (let h = 0; h < nHeads; h++) {
        const plane = (b * nHeads + h) * pos * keys;
        for (let i = 0; i < pos; i++) data[plane + i * keys + j] = -Infinity;
      }
    }
  }
  return scores;
}

/**
 * Per row of the batch, how many of the pass's queries (from the first) see no real key: those
 * before the row's first real token, which exist only with left padding.
 */
function blindQueries(mask: KeyMask, pos: number): number[] {
  const pastPos = mask.keys - pos;
  return Array.from({ length: mask.batch }, (_, b) => {
    let first = 0;
    while (first < mask.keys && mask.data[b * mask.keys + first] === 0) first++;
    return Math.min(pos, Math.max(0, first - pastPos));
  });
}

/**
 * Softmax of masked scores [b, head, query, key]. A query that sees no real key (a pad before a
 * row's first real token) gets a pattern of zeros, as TransformerLens gives it (its softmax's NaN
 * replaced by 0), so its z is 0. The kernel still computes the other rows: each blind row is given
 * one finite score for the softmax and restored afterwards, since `scores` may be held by a hook.
 */
export function softmaxMasked(scores: Tensor, mask: KeyMask, kernels: ForwardKernels | undefined, inPlace: boolean): Tensor {
  const [batch, nHeads, pos, keys] = scores.shape as [number, number, number, number];
  const blind = blindQueries(mask, pos);
  if (blind.every((n) => n === 0)) return softmaxLastAxis(scores, kernels, inPlace);
  const rowsOf = function* (): Generator<number> {
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < nHeads; h++) {
        for (let i = 0; i < blind[b]!; i++) yield ((b * nHeads + h) * pos + i) * keys;
      }
    }
  };
  for (const row of rowsOf()) scores.data[row] = 0;
  const pattern = softmaxLastAxis(scores, kernels, inPlace);
  for (const row of rowsOf()) {
    pattern.data.fill(0, row, row + keys);
    if (!inPlace) scores.data[row] = -Infinity;
  }
  return pattern;
}
