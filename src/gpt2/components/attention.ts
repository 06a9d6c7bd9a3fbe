import { InputError } from "../../errors.ts";
import type { ForwardKernels } from "../../tensor/forward-kernels.ts";
import type { Backend, PreparedWeight } from "../../backend/backend.ts";
import { Tensor } from "../../tensor/tensor.ts";

/** Output buffers for splitQkv, each [b·p·d] floats; a missing one is allocated. */
export interface QkvBuffers {
  readonly q?: Float32Array;
  readonly k?: Float32Array;
  readonly v?: Float32Array;
}

/** c_attn output [b, p, 3·d] → q, k, v as [b, p, head, d_head] (TransformerLens layout). */
export function splitQkv(qkv: Tensor, nHeads: number, into: QkvBuffers = {}): { q: Tensor; k: Tensor; v: Tensor } {
  const [batch, pos, width] = qkv.shape as [number, number, number];
  const d = width / 3;
  const dHead = d / nHeads;
  const rows = batch * pos;
  const parts = [into.q, into.k, into.v].map((buffer) => checkedBuffer(buffer, rows * d, "splitQkv"));
  for (let r = 0; r < rows; r++) {
    for (let part = 0; part < 3; part++) {
      parts[part]!.set(qkv.data.subarray(r * width + part * d, r * width + (part + 1) * d), r * d);
    }
  }
  const shape = [batch, pos, nHeads, dHead];
  return { q: new Tensor(parts[0]!, shape), k: new Tensor(parts[1]!, shape), v: new Tensor(parts[2]!, shape) };
}

/**
 * True when a kernel may take over: both operands are rank 4 and every size is positive (the
 * callers also check that the operands' sizes agree; anything else keeps the plain loops'
 * behaviour).
 */
function kernelShapesOk(a: Tensor, b: Tensor, dims: readonly number[]): boolean {
  return a.rank === 4 && b.rank === 4 && dims.every((d) => d > 0);
}

/**
 * q·kᵀ/√d_head as [b, head, query, key], −∞ above the diagonal. `kernels.attentionScores`, when
 * given, computes it instead (same result within float32 rounding).
 */
export function attentionScores(q: Tensor, k: Tensor, kernels?: ForwardKernels, into?: Float32Array): Tensor {
  const [batch, pos, nHeads, dHead] = q.shape as [number, number, number, number];
  const keys = k.shape[1]!;
  const scale = 1 / Math.sqrt(dHead);
  const out = checkedBuffer(into, batch * nHeads * pos * keys, "attentionScores");
  if (
    kernels?.attentionScores && kernelShapesOk(q, k, [batch, pos, keys, nHeads, dHead]) &&
    k.shape[0] === batch && k.shape[2] === nHeads && k.shape[3] === dHead
  ) {
    kernels.attentionScores(q.data, k.data, batch, pos, keys, nHeads, dHead, out);
    return new Tensor(out, [batch, nHeads, pos, keys]);
  }
  const qd = q.data, kd = k.data;
  const rowStride = nHeads * dHead;
  const offset = keys - pos;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const plane = (b * nHeads + h) * pos * keys;
      for (let i = 0; i < pos; i++) {
        const qBase = (b * pos + i) * rowStride + h * dHead;
        const row = plane + i * keys;
        for (let j = 0; j < keys; j++) {
          if (j > i + offset) {
            out[row + j] = -Infinity;
            continue;
          }
          const kBase = (b * keys + j) * rowStride + h * dHead;
          let acc = 0;
          for (let e = 0; e < dHead; e++) acc += qd[qBase + e]! * kd[kBase + e]!;
          out[row + j] = acc * scale;
        }
      }
    }
  }
  return new Tensor(out, [batch, nHeads, pos, keys]);
}

/**
 * z[b, q, head] = Σ_k pattern[b, head, q, k] · v[b, k, head] → [b, p, head, d_head]. Zero weights
 * are skipped. `kernels.mixValues`, when given, computes it instead (same result within float32
 * rounding).
 */
export function mixValues(pattern: Tensor, v: Tensor, kernels?: ForwardKernels, into?: Float32Array): Tensor {
  const [batch, nHeads, pos, keys] = pattern.shape as [number, number, number, number];
  const dHead = v.shape[3]!;
  const rowStride = nHeads * dHead;
  const out = checkedBuffer(into, batch * pos * rowStride, "mixValues");
  if (
    kernels?.mixValues && kernelShapesOk(pattern, v, [batch, pos, keys, nHeads, dHead]) &&
    v.shape[0] === batch && v.shape[1] === keys && v.shape[2] === nHeads
  ) {
    kernels.mixValues(pattern.data, v.data, batch, pos, keys, nHeads, dHead, out);
    return new Tensor(out, [batch, pos, nHeads, dHead]);
  }
  const pd = pattern.data, vd = v.data;
  out.fill(0);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const plane = (b * nHeads + h) * pos * keys;
      for (let i = 0; i < pos; i++) {
        const zBase = (b * pos + i) * rowStride + h * dHead;
        for (let j = 0; j < keys; j++) {
          const weight = pd[plane + i * keys + j]!;
          if (weight === 0) continue;
          const vBase = (b * keys + j) * rowStride + h * dHead;
          for (let e = 0; e < dHead; e++) out[zBase + e] += weight * vd[vBase + e]!;
        }
      }
    }
  }
  return new Tensor(out, [batch, pos, nHeads, dHead]);
}

/** Each head's output z_h · W_O[h] without the output bias → [b, p, head, d_model]. */
export function headResults(backend: Backend, z: Tensor, outPerHead: readonly PreparedWeight[]): Tensor {
  const [batch, pos, nHeads, dHead] = z.shape as [number, number, number, number];
  const rows = batch * pos;
  const dModel = outPerHead[0]!.outDim;
  const out = new Float32Array(rows * nHeads * dModel);
  const zHead = new Float32Array(rows * dHead);
  const resultHead = new Float32Array(rows * dModel);
  for (let h = 0; h < nHeads; h++) {
    for (let r = 0; r < rows; r++) {
      zHead.set(z.data.subarray((r * nHeads + h) * dHead, (r * nHeads + h + 1) * dHead), r * dHead);
    }
    backend.matmul(zHead, rows, outPerHead[h]!, resultHead, null);
    for (let r = 0; r < rows; r++) {
      out.set(resultHead.subarray(r * dModel, (r + 1) * dModel), (r * nHeads + h) * dModel);
    }
  }
  return new Tensor(out, [batch, pos, nHeads, dModel]);
}

/** Σ_head result + bias → [b, p, d_model]. */
export function sumHeads(result: Tensor, bias: Float32Array): Tensor {
  const [batch, pos, nHeads, dModel] = result.shape as [number, number, number, number];
  const rows = batch * pos;
  const out = new Float32Array(rows * dModel);
  for (let r = 0; r < rows; r++) {
    const o = r * dModel;
    for (let j = 0; j < dModel; j++) out[o + j] = bias[j]!;
    for (let h = 0; h < nHeads; h++) {
      const src = (r * nHeads + h) * dModel;
      for (let j = 0; j < dModel; j++) out[o + j] += result.data[src + j]!;
    }
  }
  return new Tensor(out, [batch, pos, dModel]);
}

/** `buffer` when given (it must hold exactly `floats` values), else a new zeroed array. */
function checkedBuffer(buffer: Float32Array | undefined, floats: number, what: string): Float32Array {
  if (buffer === undefined) return new Float32Array(floats);
  if (buffer.length !== floats) {
    throw new InputError(`${what}: output buffer holds ${buffer.length} values, expected ${floats}`, "shape_mismatch");
  }
  return buffer;
}
