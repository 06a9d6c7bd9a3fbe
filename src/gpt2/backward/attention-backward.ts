import { Tensor } from "../../tensor/tensor.ts";
import type { KeyMask } from "../components/attention-mask.ts";
import type { BackwardKernels } from "../../tensor/backward-kernels.ts";
import {
  referenceAttentionScoresBackward, referenceMixValuesBackward, referenceSoftmaxBackwardRows,
} from "../../backend/reference/attention-backward.ts";

/*
 * The backward of each attention step of forward.ts (components/attention.ts), in TransformerLens's
 * layouts: q, k, v, z [b, pos, head, d_head]; scores and pattern [b, head, query, key].
 */

/**
 * mixValues backward, z[b, q, h] = Σ_k pattern[b, h, q, k]·v[b, k, h]:
 * ∂/∂pattern[b, h, q, k] = dz[b, q, h]·v[b, k, h] and ∂/∂v[b, k, h] = Σ_q pattern[b, h, q, k]·dz[b, q, h].
 * Without `maskedToo`, ∂/∂pattern is left 0 at keys after the query (where the pattern is 0).
 */
export function mixValuesBackward(
  dz: Tensor, pattern: Tensor, v: Tensor, maskedToo = true, kernels?: BackwardKernels, into: { dPattern?: Float32Array; dV?: Float32Array } = {},
): { dPattern: Tensor; dV: Tensor } {
  const [batch, nHeads, pos, keys] = pattern.shape as [number, number, number, number];
  const dHead = v.shape[3]!;
  const dPattern = into.dPattern ?? new Float32Array(pattern.size);
  const dV = into.dV ?? new Float32Array(v.size);
  (kernels?.mixValuesBackward ?? referenceMixValuesBackward)(dz.data, pattern.data, v.data, batch, pos, keys, nHeads, dHead, maskedToo, dPattern, dV);
  return { dPattern: new Tensor(dPattern, pattern.shape), dV: new Tensor(dV, v.shape) };
}

/** Softmax backward along the keys: ∂/∂scores = pattern ⊙ (dPattern − Σ_k pattern·dPattern); into `into` when given (it may be dPattern's array). */
export function softmaxBackward(dPattern: Tensor, pattern: Tensor, kernels?: BackwardKernels, into?: Float32Array): Tensor {
  const keys = pattern.shape[pattern.rank - 1]!;
  const out = into ?? new Float32Array(pattern.size);
  (kernels?.softmaxBackwardRows ?? referenceSoftmaxBackwardRows)(pattern.data, dPattern.data, keys, out);
  return new Tensor(out, pattern.shape);
}

/**
 * Zeroes, in place, the gradient of every score the forward set to −∞ (a key after the query, or a
 * padded key): the pattern does not depend on those scores, whatever a hook put there.
 */
export function maskScoreGradients(dScores: Tensor, mask: KeyMask | null): Tensor {
  const [batch, nHeads, pos, keys] = dScores.shape as [number, number, number, number];
  const offset = keys - pos;
  const data = dScores.data;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < pos; i++) {
        const row = ((b * nHeads + h) * pos + i) * keys;
        for (let j = 0; j < keys; j++) {
          if (j > i + offset || (mask !== null && mask.data[b * mask.keys + j] === 0)) data[row + j] = 0;
        }
      }
    }
  }
  return dScores;
}

/**
 * attentionScores backward, scores[b, h, q, k] = q[b, q, h]·k[b, k, h]/√d_head:
 * ∂/∂q[b, q, h] = Σ_k dScores·k[b, k, h]/√d_head and ∂/∂k[b, k, h] = Σ_q dScores·q[b, q, h]/√d_head.
 * Masked entries must already be zero (maskScoreGradients).
 */
export function attentionScoresBackward(
  dScores: Tensor, q: Tensor, k: Tensor, kernels?: BackwardKernels, into: { dQ?: Float32Array; dK?: Float32Array } = {},
): { dQ: Tensor; dK: Tensor } {
  const [batch, nHeads, pos, keys] = dScores.shape as [number, number, number, number];
  const dHead = q.shape[3]!;
  const dQ = into.dQ ?? new Float32Array(q.size);
  const dK = into.dK ?? new Float32Array(k.size);
  (kernels?.attentionScoresBackward ?? referenceAttentionScoresBackward)(dScores.data, q.data, k.data, batch, pos, keys, nHeads, dHead, dQ, dK);
  return { dQ: new Tensor(dQ, q.shape), dK: new Tensor(dK, k.shape) };
}

/** splitQkv backward: ∂/∂q, k, v [b, p, head, d_head] → ∂/∂ c_attn's output [b, p, 3·d_model]. */
export function splitQkvBackward(dQ: Tensor, dK: Tensor, dV: Tensor, into?: Float32Array): Tensor {
  const [batch, pos, nHeads, dHead] = dQ.shape as [number, number, number, number];
  const d = nHeads * dHead;
  const rows = batch * pos;
  const out = into ?? new Float32Array(rows * 3 * d);
  const parts = [dQ.data, dK.data, dV.data];
  for (let part = 0; part < 3; part++) {
    const src = parts[part]!;
    for (let r = 0, at = part * d; r < rows; r++, at += 3 * d) {
      for (let e = 0; e < d; e++) out[at + e] = src[r * d + e]!;
    }
  }
  return new Tensor(out, [batch, pos, 3 * d]);
}

/** sumHeads backward: ∂/∂`attn.hook_result` [b, p, head, d_model] is ∂/∂`hook_attn_out` for every head. */
export function sumHeadsBackward(dAttnOut: Tensor, nHeads: number): Tensor {
  const [batch, pos, dModel] = dAttnOut.shape as [number, number, number];
  const out = new Float32Array(batch * pos * nHeads * dModel);
  for (let r = 0; r < batch * pos; r++) {
    const row = dAttnOut.data.subarray(r * dModel, (r + 1) * dModel);
    for (let h = 0; h < nHeads; h++) out.set(row, (r * nHeads + h) * dModel);
  }
  return new Tensor(out, [batch, pos, nHeads, dModel]);
}
