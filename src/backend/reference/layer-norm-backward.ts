/**
 * The plain-TypeScript LayerNorm backward steps (BackwardKernels' contracts, float64 sums stored as
 * float32): the reference the WebAssembly kernels are tested against, and the fallback.
 */

export function referenceLayerNormAffineBackward(dOut: Float32Array, width: number, weight: Float32Array, out: Float32Array): void {
  for (let base = 0; base < out.length; base += width) {
    for (let j = 0; j < width; j++) out[base + j] = dOut[base + j]! * weight[j]!;
  }
}

export function referenceLayerNormScaleBackward(dNormalized: Float32Array, normalized: Float32Array, scale: Float32Array, width: number, out: Float32Array): void {
  for (let r = 0; r < out.length; r++) {
    let acc = 0;
    for (let j = r * width; j < (r + 1) * width; j++) acc += dNormalized[j]! * normalized[j]!;
    out[r] = -acc / scale[r]!;
  }
}

export function referenceLayerNormInputBackward(
  dNormalized: Float32Array, dScale: Float32Array, normalized: Float32Array, scale: Float32Array, width: number, out: Float32Array,
): void {
  for (let r = 0; r < scale.length; r++) {
    const base = r * width;
    let mean = 0;
    for (let j = 0; j < width; j++) mean += dNormalized[base + j]!;
    mean /= width;
    const inv = 1 / scale[r]!;
    const viaScale = dScale[r]! / width;
    for (let j = 0; j < width; j++) out[base + j] = (dNormalized[base + j]! - mean) * inv + viaScale * normalized[base + j]!;
  }
}
