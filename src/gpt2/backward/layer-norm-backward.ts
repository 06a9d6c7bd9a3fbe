import {
  referenceLayerNormAffineBackward, referenceLayerNormInputBackward, referenceLayerNormScaleBackward,
} from "../../backend/reference/layer-norm-backward.ts";
import type { BackwardKernels } from "../../tensor/backward-kernels.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { type LayerNormSite, layerNormWeights } from "../components/layer-norm.ts";
import type { Gpt2Model } from "../model.ts";

/*
 * TransformerLens's LayerNorm: xc = x − mean(x); scale = √(mean(xc²) + ε) (`hook_scale`);
 * normalized = xc / scale (`hook_normalized`); out = normalized·w + b. Each backward below is one of
 * those steps in reverse, so a gradient can be seen (and edited) at both hook points; each runs on
 * the backend's kernel when it has one (see src/backend/reference/layer-norm-backward.ts).
 */

/** ∂/∂normalized from ∂/∂out: dOut ⊙ w (into `into` when given; it may be dOut's array). */
export function layerNormAffineBackward(model: Gpt2Model, site: LayerNormSite, dOut: Tensor, into?: Float32Array): Tensor {
  const { weight } = layerNormWeights(model, site);
  const out = into ?? new Float32Array(dOut.size);
  (model.backend.kernels?.layerNormAffineBackward ?? referenceLayerNormAffineBackward)(dOut.data, weight.length, weight, out);
  return new Tensor(out, dOut.shape);
}

/** ∂/∂scale [.., 1] from ∂/∂normalized: Σ_j dn_j·∂(xc_j/scale)/∂scale = −Σ_j dn_j·normalized_j / scale. */
export function layerNormScaleBackward(dNormalized: Tensor, normalized: Tensor, scale: Tensor, kernels?: BackwardKernels): Tensor {
  const width = normalized.shape[normalized.rank - 1]!;
  const out = new Float32Array(normalized.size / width);
  (kernels?.layerNormScaleBackward ?? referenceLayerNormScaleBackward)(dNormalized.data, normalized.data, scale.data, width, out);
  return new Tensor(out, scale.shape);
}

/**
 * ∂/∂x from ∂/∂normalized (scale held fixed: the centring's Jacobian, (dn − mean dn)/scale) plus
 * ∂/∂scale through scale's own dependence on x (∂scale/∂x_j = normalized_j / width). Into `into`
 * when given (it may be dNormalized's array: each row is read before it is written).
 */
export function layerNormInputBackward(
  dNormalized: Tensor, dScale: Tensor, normalized: Tensor, scale: Tensor, into?: Float32Array, kernels?: BackwardKernels,
): Tensor {
  const width = normalized.shape[normalized.rank - 1]!;
  const out = into ?? new Float32Array(normalized.size);
  (kernels?.layerNormInputBackward ?? referenceLayerNormInputBackward)(dNormalized.data, dScale.data, normalized.data, scale.data, width, out);
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
