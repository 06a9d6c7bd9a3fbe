/**
 * The plain-TypeScript attention backward kernels (BackwardKernels' contracts, float64 sums stored
 * as float32): the reference the WebAssembly kernels are tested against, and the fallback.
 */

export function referenceMixValuesBackward(
  dz: Float32Array, pattern: Float32Array, v: Float32Array, batch: number, pos: number, keys: number, nHeads: number, dHead: number,
  maskedToo: boolean, dPattern: Float32Array, dV: Float32Array,
): void {
  const rowStride = nHeads * dHead;
  const offset = keys - pos;
  dPattern.fill(0);
  dV.fill(0);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const plane = (b * nHeads + h) * pos * keys;
      for (let i = 0; i < pos; i++) {
        const zBase = (b * pos + i) * rowStride + h * dHead;
        const seen = maskedToo ? keys : Math.min(keys, i + offset + 1);
        for (let j = 0; j < seen; j++) {
          const vBase = (b * keys + j) * rowStride + h * dHead;
          const weight = pattern[plane + i * keys + j]!;
          let acc = 0;
          for (let e = 0; e < dHead; e++) {
            acc += dz[zBase + e]! * v[vBase + e]!;
            if (weight !== 0) dV[vBase + e] += weight * dz[zBase + e]!;
          }
          dPattern[plane + i * keys + j] = acc;
        }
      }
    }
  }
}

export function referenceSoftmaxBackwardRows(pattern: Float32Array, dPattern: Float32Array, keys: number, out: Float32Array): void {
  for (let base = 0; base < out.length; base += keys) {
    let dot = 0;
    for (let j = 0; j < keys; j++) dot += pattern[base + j]! * dPattern[base + j]!;
    for (let j = 0; j < keys; j++) out[base + j] = pattern[base + j]! * (dPattern[base + j]! - dot);
  }
}

export function referenceAttentionScoresBackward(
  dScores: Float32Array, q: Float32Array, k: Float32Array, batch: number, pos: number, keys: number, nHeads: number, dHead: number,
  dQ: Float32Array, dK: Float32Array,
): void {
  const rowStride = nHeads * dHead;
  const scale = 1 / Math.sqrt(dHead);
  dQ.fill(0);
  dK.fill(0);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < pos; i++) {
        const row = ((b * nHeads + h) * pos + i) * keys;
        const qBase = (b * pos + i) * rowStride + h * dHead;
        for (let j = 0; j < keys; j++) {
          const weight = dScores[row + j]!;
          if (weight === 0) continue;
          const w = weight * scale;
          const kBase = (b * keys + j) * rowStride + h * dHead;
          for (let e = 0; e < dHead; e++) {
            dQ[qBase + e] += w * k[kBase + e]!;
            dK[kBase + e] += w * q[qBase + e]!;
          }
        }
      }
    }
  }
}
