import { Tensor } from "../../tensor/tensor.ts";
import { type LayerNormSite, layerNormWeights } from "../components/layer-norm.ts";
import type { Gpt2Model } from "../model.ts";

/*
 * TransformerLens's LayerNorm: xc = x − mean(x); scale = √(mean(xc²) + ε) (`hook_scale`);
 * normalized = xc / scale (`hook_normalized`); out = normalized·w + b. Each backward below is one of
 * those steps in reverse, so a gradient can be seen (and edited) at both hook points.
 */

/** ∂/∂normalized from ∂/∂out: dOut ⊙ w. */
export function layerNormAffineBackward(model: Gpt2Model, site: LayerNormSite, dOut: Tensor): Tensor {
  const { weight } = layerNormWeights(model, site);
  const width = weight.length;
  const out = new Float32Array(dOut.size);
  const src = dOut.data;
  for (let i = 0; i < out.length; i++) out[i] = src[i]! * weight[i % width]!;
  return new Tensor(out, dOut.shape);
}

/** ∂/∂scale [.., 1] from ∂/∂normalized: Σ_j dn_j·∂(xc_j/scale)/∂scale = −Σ_j dn_j·normalized_j / scale. */
export function layerNormScaleBackward(dNormalized: Tensor, normalized: Tensor, scale: Tensor): Tensor {
  const width = normalized.shape[normalized.rank - 1]!;
  const rows = normalized.size / width;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let j = r * width; j < (r + 1) * width; j++) acc += dNormalized.data[j]! * normalized.data[j]!;
    out[r] = -acc / scale.data[r]!;
  }
  return new Tensor(out, scale.shape);
}

/**
 * ∂/∂x from ∂/∂normalized (scale held fixed: the centring's Jacobian, (dn − mean dn)/scale) plus
 * ∂/∂scale through scale's own dependence on x (∂scale/∂x_j = normalized_j / width).
 */
export function layerNormInputBackward(dNormalized: Tensor, dScale: Tensor, normalized: Tensor, scale: Tensor): Tensor {
  const width = normalized.shape[normalized.rank - 1]!;
  const rows = normalized.size / width;
  const out = new Float32Array(normalized.size);
  const dn = dNormalized.data, n = normalized.data;
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let mean = 0;
    for (let j = 0; j < width; j++) mean += dn[base + j]!;
    mean /= width;
    const inv = 1 / scale.data[r]!;
    const viaScale = dScale.data[r]! / width;
    for (let j = 0; j < width; j++) out[base + j] = (dn[base + j]! - mean) * inv + viaScale * n[base + j]!;
  }
  return new Tensor(out, normalized.shape);
}

/**
 * ∂/∂x from ∂/∂out when nothing sees the gradients in between: layerNormAffineBackward, then
 * layerNormScaleBackward and layerNormInputBackward, composed row by row without their intermediate
 * arrays (edge attribution takes one per receiver and step).
 */
export function layerNormBackwardFromOutput(model: Gpt2Model, site: LayerNormSite, dOut: Tensor, normalized: Tensor, scale: Tensor): Tensor {
  const { weight } = layerNormWeights(model, site);
  const width = weight.length;
  const rows = normalized.size / width;
  const out = new Float32Array(normalized.size);
  const g = dOut.data, n = normalized.data;
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let sum = 0, dot = 0;
    for (let j = 0; j < width; j++) {
      const dn = g[base + j]! * weight[j]!;
      sum += dn;
      dot += dn * n[base + j]!;
    }
    const inv = 1 / scale.data[r]!;
    const mean = sum / width;
    // layerNormScaleBackward's −dot/scale, spread over x as ∂scale/∂x_j = normalized_j / width.
    const viaScale = -dot * inv / width;
    for (let j = 0; j < width; j++) out[base + j] = (g[base + j]! * weight[j]! - mean) * inv + viaScale * n[base + j]!;
  }
  return new Tensor(out, normalized.shape);
}
