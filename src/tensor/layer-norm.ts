import { InputError } from "../errors.ts";
import type { ForwardKernels } from "./forward-kernels.ts";
import { Tensor } from "./tensor.ts";

/** Per-row scale of a LayerNorm: sqrt(var + eps), shape [..., 1] as in TransformerLens' hook_scale. */
export function layerNormScale(x: Tensor, eps: number, kernels?: ForwardKernels): Tensor {
  const width = lastDim(x);
  const rows = x.size / width;
  const out = new Float32Array(rows);
  const src = x.data;
  if (kernels?.layerNormScale) {
    kernels.layerNormScale(src, width, eps, out);
    return new Tensor(out, [...x.shape.slice(0, -1), 1]);
  }
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let mean = 0;
    for (let j = 0; j < width; j++) mean += src[base + j]!;
    mean /= width;
    let variance = 0;
    for (let j = 0; j < width; j++) {
      const d = src[base + j]! - mean;
      variance += d * d;
    }
    out[r] = Math.sqrt(variance / width + eps);
  }
  return new Tensor(out, [...x.shape.slice(0, -1), 1]);
}

/** (x − mean(x)) / scale, row-wise; `scale` has shape [..., 1]. Written into `into` when given. */
export function layerNormNormalize(x: Tensor, scale: Tensor, into?: Float32Array, kernels?: ForwardKernels): Tensor {
  const width = lastDim(x);
  const rows = x.size / width;
  if (scale.size !== rows) {
    throw new InputError(`LayerNorm scale has ${scale.size} entries for ${rows} rows`, "shape_mismatch");
  }
  const out = outputBuffer(x, into);
  const src = x.data;
  if (kernels?.layerNormNormalize) {
    kernels.layerNormNormalize(src, width, scale.data, out);
    return new Tensor(out, x.shape);
  }
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let mean = 0;
    for (let j = 0; j < width; j++) mean += src[base + j]!;
    mean /= width;
    const inv = 1 / scale.data[r]!;
    for (let j = 0; j < width; j++) out[base + j] = (src[base + j]! - mean) * inv;
  }
  return new Tensor(out, x.shape);
}

/**
 * layerNormScale and layerNormNormalize at once (one pass over x with a kernel), for a caller
 * that uses the scale as computed.
 */
export function layerNormScaleNormalize(x: Tensor, eps: number, into?: Float32Array, kernels?: ForwardKernels): { scale: Tensor; normalized: Tensor } {
  if (!kernels?.layerNormScale) {
    const scale = layerNormScale(x, eps, kernels);
    return { scale, normalized: layerNormNormalize(x, scale, into, kernels) };
  }
  const width = lastDim(x);
  const scale = new Float32Array(x.size / width);
  const out = outputBuffer(x, into);
  kernels.layerNormScale(x.data, width, eps, scale, out);
  return { scale: new Tensor(scale, [...x.shape.slice(0, -1), 1]), normalized: new Tensor(out, x.shape) };
}

/** normalized · weight + bias, broadcast over the last axis; `inPlace` overwrites `normalized`. */
export function layerNormAffine(normalized: Tensor, weight: Float32Array, bias: Float32Array, inPlace = false, kernels?: ForwardKernels): Tensor {
  const width = lastDim(normalized);
  if (weight.length !== width || bias.length !== width) {
    throw new InputError(`LayerNorm weight/bias of length ${weight.length}/${bias.length} for width ${width}`, "shape_mismatch");
  }
  const out = inPlace ? normalized.data : new Float32Array(normalized.size);
  const src = normalized.data;
  if (kernels?.layerNormAffine) {
    kernels.layerNormAffine(src, width, weight, bias, out);
    return new Tensor(out, normalized.shape);
  }
  for (let base = 0; base < out.length; base += width) {
    for (let j = 0; j < width; j++) out[base + j] = src[base + j]! * weight[j]! + bias[j]!;
  }
  return new Tensor(out, normalized.shape);
}

export function layerNorm(x: Tensor, weight: Float32Array, bias: Float32Array, eps: number, kernels?: ForwardKernels): Tensor {
  const { normalized } = layerNormScaleNormalize(x, eps, undefined, kernels);
  return layerNormAffine(normalized, weight, bias, true, kernels);
}

function outputBuffer(x: Tensor, into: Float32Array | undefined): Float32Array {
  if (into !== undefined && into.length !== x.size) {
    throw new InputError(`LayerNorm output buffer holds ${into.length} values, expected ${x.size}`, "shape_mismatch");
  }
  return into ?? new Float32Array(x.size);
}

function lastDim(x: Tensor): number {
  const width = x.shape[x.rank - 1];
  if (!width) throw new InputError(`LayerNorm needs a non-empty last axis, got shape [${x.shape.join(", ")}]`, "bad_shape");
  return width;
}
