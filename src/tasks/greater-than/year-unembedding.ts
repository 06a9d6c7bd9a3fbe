import type { Gpt2Model } from "../../gpt2/model.ts";

/**
 * The direction each year token reads from the final residual stream under a frozen ln_final:
 * γ ⊙ W_U[:, year], so that (x − mean x)/scale · γ · W_U[:, year] is x's logit contribution.
 */
export function yearReadDirections(model: Gpt2Model, yearTokens: readonly number[]): Float32Array[] {
  const { dModel: d } = model.config;
  const gamma = model.weights.lnFinalWeight;
  return yearTokens.map((token) => {
    const row = model.weights.unembedTransposed.subarray(token * d, (token + 1) * d);
    return row.map((w, j) => w * gamma[j]!);
  });
}

/** Logit contribution of a residual vector (centred, divided by `scale`) to each year token. */
export function yearContributions(vector: ArrayLike<number>, scale: number, directions: readonly Float32Array[]): Float64Array {
  const d = vector.length;
  let mean = 0;
  for (let j = 0; j < d; j++) mean += vector[j]!;
  mean /= d;
  const out = new Float64Array(directions.length);
  directions.forEach((direction, y) => {
    let acc = 0;
    for (let j = 0; j < d; j++) acc += (vector[j]! - mean) * direction[j]!;
    out[y] = acc / scale;
  });
  return out;
}
