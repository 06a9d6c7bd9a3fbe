import { layerNormAffine, layerNormNormalize, layerNormScale, layerNormScaleNormalize } from "../../tensor/layer-norm.ts";
import { Tensor } from "../../tensor/tensor.ts";
import type { Gpt2Model } from "../model.ts";

/** A LayerNorm of the model: a block's `ln1` (before attention) or `ln2` (before the MLP), or `ln_final`. */
export type LayerNormSite =
  | { readonly kind: "ln1" | "ln2"; readonly layer: number }
  | { readonly kind: "ln_final" };

export const lnFinal: LayerNormSite = { kind: "ln_final" };

export function layerNormWeights(model: Gpt2Model, site: LayerNormSite): { weight: Float32Array; bias: Float32Array } {
  if (site.kind === "ln_final") return { weight: model.weights.lnFinalWeight, bias: model.weights.lnFinalBias };
  const block = model.weights.blocks[site.layer]!;
  return site.kind === "ln1"
    ? { weight: block.ln1Weight, bias: block.ln1Bias }
    : { weight: block.ln2Weight, bias: block.ln2Bias };
}

/** √(var + ε) of each row of x [..., d_model] → [..., 1] (TransformerLens's `hook_scale`). */
export function layerNormScaleOf(model: Gpt2Model, x: Tensor): Tensor {
  return layerNormScale(x, model.config.layerNormEps, model.backend.kernels);
}

/** (x − mean)/scale per row (`hook_normalized`), into `into` when given. */
export function layerNormNormalized(model: Gpt2Model, x: Tensor, scale: Tensor, into?: Float32Array): Tensor {
  return layerNormNormalize(x, scale, into, model.backend.kernels);
}

/** Scale and normalized rows in one pass over x. */
export function layerNormScaleAndNormalized(model: Gpt2Model, x: Tensor, into?: Float32Array): { scale: Tensor; normalized: Tensor } {
  return layerNormScaleNormalize(x, model.config.layerNormEps, into, model.backend.kernels);
}

/** normalized · w + b of `site`; `inPlace` overwrites `normalized`. */
export function layerNormAffineOf(model: Gpt2Model, site: LayerNormSite, normalized: Tensor, inPlace = false): Tensor {
  const { weight, bias } = layerNormWeights(model, site);
  return layerNormAffine(normalized, weight, bias, inPlace, model.backend.kernels);
}

export interface LayerNormOptions {
  /**
   * Divide by these scales (one per row, [..., 1] or a flat [rows]) instead of each row's own: the
   * LayerNorm is then linear in x (a frozen LayerNorm, as in direct logit attribution).
   */
  readonly frozenScale?: Tensor | Float32Array;
}

/** The LayerNorm `site` of rows x [..., d_model]: (x − mean)/scale · w + b. */
export function layerNorm(model: Gpt2Model, site: LayerNormSite, x: Tensor, options: LayerNormOptions = {}): Tensor {
  const { frozenScale } = options;
  let normalized: Tensor;
  if (frozenScale === undefined) normalized = layerNormScaleAndNormalized(model, x).normalized;
  else {
    const scale = frozenScale instanceof Tensor ? frozenScale : new Tensor(frozenScale, [...x.shape.slice(0, -1), 1]);
    normalized = layerNormNormalized(model, x, scale);
  }
  return layerNormAffineOf(model, site, normalized, true);
}
