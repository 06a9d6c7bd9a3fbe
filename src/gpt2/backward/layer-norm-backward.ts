import { Tensor } from "../../tensor/tensor.ts";
import { type LayerNormSite, layerNormWeights } from "../components/layer-norm.ts";
import type { Gpt2Model } from "../model.ts";

/*
 * TransformerLens's LayerNorm: xc = x − mean(x); scale = √(mean(xc²) + ε) (`hook_scale`);
 * normalized = xc / scale (`hook_normalized`); out = normalized·w + b. Each backward below is one of
 * those steps in reverse, so a gradient can be seen (and edited) at both hook points.
 */

/** ∂/∂normalized from ∂/∂out: dOut ⊙ w (into `into` when given; it may be dOut's array). */
export function layerNormAffineBackward(model: Gpt2Model, site: LayerNormSite, dOut: Tensor, into?: Float32Array): Tensor {
  const { weight } = layerNormWeights(model, site);
  const width = weight.length;
  const out = into ?? new Float32Array(dOut.size);
  const src = dOut.data;
  for (let base = 0; base < out.length; base += width) {
    for (let j = 0; j < width; j++) out[base + j] = src[base + j]! * weight[j]!;
  }
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
 * ∂/∂scale through scale's own dependence on x (∂scale/∂x_j = normalized_j / width). Into `into`
 * when given (it may be dNormalized's array: each row is read before it is written).
 */
export function layerNormInputBackward(dNormalized: Tensor, dScale: Tensor, normalized: Tensor, scale: Tensor, into?: Float32Array): Tensor {
  const width = normalized.shape[normalized.rank - 1]!;
  const rows = normalized.size / width;
  const out = into ?? new Float32Array(normalized.size);
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
