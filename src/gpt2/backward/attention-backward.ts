import { Tensor } from "../../tensor/tensor.ts";
import type { KeyMask } from "../components/attention-mask.ts";

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

/**
 * mixValues backward, z[b, q, h] = Σ_k pattern[b, h, q, k]·v[b, k, h]:
 * ∂/∂pattern[b, h, q, k] = dz[b, q, h]·v[b, k, h] and ∂/∂v[b, k, h] = Σ_q pattern[b, h, q, k]·dz[b, q, h].
 * Without `maskedToo`, ∂/∂pattern is left 0 at keys after the query (where the pattern is 0). With
 * `pastV` (the past's values), keys are its positions then v's, and ∂/∂v covers v's only.
 */
export function mixValuesBackward(dz: Tensor, pattern: Tensor, v: Tensor, maskedToo = true, pastV?: Tensor): { dPattern: Tensor; dV: Tensor } {
  const [batch, nHeads, pos, keys] = pattern.shape as [number, number, number, number];
  const dHead = v.shape[3]!;
  const rowStride = nHeads * dHead;
  const dPattern = new Float32Array(pattern.size);
  const dV = new Float32Array(v.size);
  const p = pattern.data, g = dz.data;
  const offset = keys - pos;
  const values = keyRows(v, pastV);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const plane = (b * nHeads + h) * pos * keys;
      for (let i = 0; i < pos; i++) {
        const zBase = (b * pos + i) * rowStride + h * dHead;
        const seen = maskedToo ? keys : Math.min(keys, i + offset + 1);
        for (let j = 0; j < seen; j++) {
          const fromPast = j < values.pastPos;
          const vd = fromPast ? values.past : values.own;
          const vBase = (fromPast ? b * values.pastPos + j : b * values.pos + j - values.pastPos) * rowStride + h * dHead;
          const weight = p[plane + i * keys + j]!;
          let acc = 0;
          for (let e = 0; e < dHead; e++) acc += g[zBase + e]! * vd[vBase + e]!;
          if (!fromPast) for (let e = 0; e < dHead; e++) dV[vBase + e] += weight * g[zBase + e]!;
          dPattern[plane + i * keys + j] = acc;
        }
      }
    }
  }
  return { dPattern: new Tensor(dPattern, pattern.shape), dV: new Tensor(dV, v.shape) };
}

/** Softmax backward along the keys: ∂/∂scores = pattern ⊙ (dPattern − Σ_k pattern·dPattern). */
export function softmaxBackward(dPattern: Tensor, pattern: Tensor): Tensor {
  const keys = pattern.shape[pattern.rank - 1]!;
  const out = new Float32Array(pattern.size);
  const p = pattern.data, g = dPattern.data;
  for (let base = 0; base < out.length; base += keys) {
    let dot = 0;
    for (let j = 0; j < keys; j++) dot += p[base + j]! * g[base + j]!;
    for (let j = 0; j < keys; j++) out[base + j] = p[base + j]! * (g[base + j]! - dot);
  }
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
export function attentionScoresBackward(dScores: Tensor, q: Tensor, k: Tensor, pastK?: Tensor): { dQ: Tensor; dK: Tensor } {
  const [batch, nHeads, pos, keys] = dScores.shape as [number, number, number, number];
  const dHead = q.shape[3]!;
  const rowStride = nHeads * dHead;
  const scale = 1 / Math.sqrt(dHead);
  const dQ = new Float32Array(q.size);
  const dK = new Float32Array(k.size);
  const g = dScores.data, qd = q.data;
  const keyRow = keyRows(k, pastK);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < pos; i++) {
        const row = ((b * nHeads + h) * pos + i) * keys;
        const qBase = (b * pos + i) * rowStride + h * dHead;
        for (let j = 0; j < keys; j++) {
          const weight = g[row + j]!;
          if (weight === 0) continue;
          const w = weight * scale;
          const fromPast = j < keyRow.pastPos;
          const kd = fromPast ? keyRow.past : keyRow.own;
          const kBase = (fromPast ? b * keyRow.pastPos + j : b * keyRow.pos + j - keyRow.pastPos) * rowStride + h * dHead;
          for (let e = 0; e < dHead; e++) dQ[qBase + e] += w * kd[kBase + e]!;
          if (!fromPast) for (let e = 0; e < dHead; e++) dK[kBase + e] += w * qd[qBase + e]!;
        }
      }
    }
  }
  return { dQ: new Tensor(dQ, q.shape), dK: new Tensor(dK, k.shape) };
}

/** splitQkv backward: ∂/∂q, k, v [b, p, head, d_head] → ∂/∂ c_attn's output [b, p, 3·d_model]. */
export function splitQkvBackward(dQ: Tensor, dK: Tensor, dV: Tensor): Tensor {
  const [batch, pos, nHeads, dHead] = dQ.shape as [number, number, number, number];
  const d = nHeads * dHead;
  const rows = batch * pos;
  const out = new Float32Array(rows * 3 * d);
  const parts = [dQ.data, dK.data, dV.data];
  for (let r = 0; r < rows; r++) {
    for (let part = 0; part < 3; part++) out.set(parts[part]!.subarray(r * d, (r + 1) * d), r * 3 * d + part * d);
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
