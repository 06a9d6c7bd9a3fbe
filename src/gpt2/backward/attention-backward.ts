import { Tensor } from "../../tensor/tensor.ts";
import type { KeyMask } from "../components/attention-mask.ts";
import type { BackwardKernels } from "../../tensor/backward-kernels.ts";
import {
  referenceAttentionScoresBackward, referenceMixValuesBackward, referenceSoftmaxBackwardRows,
} from "../../backend/reference/attention-backward.ts";

/*
 * The backward of each attention step of forward.ts (components/attention.ts), in TransformerLens's
 * layouts: q, k, v, z [b, pos, head, d_head]; scores and pattern [b, head, query, key]. A run that
 * continues earlier positions (ForwardOptions.past) has keys = pastPos + pos, its queries at
 * pastPos…pastPos + pos − 1; the past keys and values are constants, so they get no gradient.
 */

/** [past; new] keys or values: the past's [b, pastPos, …] rows first, then the run's own [b, pos, …]. */
interface KeyRows {
  readonly past: Float32Array;
  readonly own: Float32Array;
  readonly pastPos: number;
  readonly pos: number;
}

function keyRows(own: Tensor, past: Tensor | undefined): KeyRows {
  return { past: past?.data ?? own.data, own: own.data, pastPos: past?.shape[1] ?? 0, pos: own.shape[1]! };
}

/** The kernels read keys [b, pastPos + pos, …] in one array: the past's rows then the run's own, per prompt. */
function withPast(rows: KeyRows, batch: number): Float32Array {
  if (rows.pastPos === 0) return rows.own;
  const width = rows.own.length / (batch * rows.pos);
  const all = new Float32Array(batch * (rows.pastPos + rows.pos) * width);
  for (let b = 0; b < batch; b++) {
    const at = b * (rows.pastPos + rows.pos) * width;
    all.set(rows.past.subarray(b * rows.pastPos * width, (b + 1) * rows.pastPos * width), at);
    all.set(rows.own.subarray(b * rows.pos * width, (b + 1) * rows.pos * width), at + rows.pastPos * width);
  }
  return all;
}

/** The run's own rows of a gradient over [past; own] keys (the past is a constant: its rows are dropped). */
function ownRows(all: Float32Array, rows: KeyRows, batch: number, out: Float32Array): void {
  const width = out.length / (batch * rows.pos);
  for (let b = 0; b < batch; b++) {
    const from = (b * (rows.pastPos + rows.pos) + rows.pastPos) * width;
    out.set(all.subarray(from, from + rows.pos * width), b * rows.pos * width);
  }
}

/**
 * mixValues backward, z[b, q, h] = Σ_k pattern[b, h, q, k]·v[b, k, h]:
 * ∂/∂pattern[b, h, q, k] = dz[b, q, h]·v[b, k, h] and ∂/∂v[b, k, h] = Σ_q pattern[b, h, q, k]·dz[b, q, h].
 * Without `maskedToo`, ∂/∂pattern is left 0 at keys after the query (where the pattern is 0). With
 * `pastV` (the past's values), keys are its positions then v's, and ∂/∂v covers v's only.
 */
export function mixValuesBackward(
  dz: Tensor, pattern: Tensor, v: Tensor, maskedToo = true, kernels?: BackwardKernels,
  into: { dPattern?: Float32Array; dV?: Float32Array } = {}, pastV?: Tensor,
): { dPattern: Tensor; dV: Tensor } {
  const [batch, nHeads, pos, keys] = pattern.shape as [number, number, number, number];
  const dHead = v.shape[3]!;
  const dPattern = into.dPattern ?? new Float32Array(pattern.size);
  const dV = into.dV ?? new Float32Array(v.size);
  const values = keyRows(v, pastV);
  const allDV = values.pastPos === 0 ? dV : new Float32Array(batch * keys * nHeads * dHead);
  (kernels?.mixValuesBackward ?? referenceMixValuesBackward)(dz.data, pattern.data, withPast(values, batch), batch, pos, keys, nHeads, dHead, maskedToo, dPattern, allDV);
  if (allDV !== dV) ownRows(allDV, values, batch, dV);
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
 * Masked entries must already be zero (maskScoreGradients). With `pastK` (the past's keys), keys are
 * its positions then k's, and ∂/∂k covers k's only.
 */
export function attentionScoresBackward(
  dScores: Tensor, q: Tensor, k: Tensor, kernels?: BackwardKernels,
  into: { dQ?: Float32Array; dK?: Float32Array } = {}, pastK?: Tensor,
): { dQ: Tensor; dK: Tensor } {
  const [batch, nHeads, pos, keys] = dScores.shape as [number, number, number, number];
  const dHead = q.shape[3]!;
  const dQ = into.dQ ?? new Float32Array(q.size);
  const dK = into.dK ?? new Float32Array(k.size);
  const keyRow = keyRows(k, pastK);
  const allDK = keyRow.pastPos === 0 ? dK : new Float32Array(batch * keys * nHeads * dHead);
  (kernels?.attentionScoresBackward ?? referenceAttentionScoresBackward)(dScores.data, q.data, withPast(keyRow, batch), batch, pos, keys, nHeads, dHead, dQ, allDK);
  if (allDK !== dK) ownRows(allDK, keyRow, batch, dK);
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
