import type { PreparedWeight } from "../../backend/backend.ts";
import type { Gpt2Model } from "../model.ts";

/** One head's W_Q / W_K / W_V ([d_model, d_head] each, prepared) with b_Q / b_K / b_V. */
export interface HeadWeights {
  readonly q: PreparedWeight;
  readonly k: PreparedWeight;
  readonly v: PreparedWeight;
  readonly qBias: Float32Array;
  readonly kBias: Float32Array;
  readonly vBias: Float32Array;
}

const perModel = new WeakMap<Gpt2Model, (HeadWeights | undefined)[][]>();

/**
 * Head `head` of block `layer`: its columns of c_attn (q | k | v, each split into heads of d_head)
 * copied into contiguous matrices on first use, so a head's projections cost d_model·d_head work.
 */
export function headWeights(model: Gpt2Model, layer: number, head: number): HeadWeights {
  let layers = perModel.get(model);
  if (layers === undefined) {
    layers = model.weights.blocks.map(() => new Array<HeadWeights | undefined>(model.config.nHeads));
    perModel.set(model, layers);
  }
  const row = layers[layer]!;
  return (row[head] ??= sliceHead(model, layer, head));
}

function sliceHead(model: Gpt2Model, layer: number, head: number): HeadWeights {
  const { dModel: d, dHead } = model.config;
  const block = model.weights.blocks[layer]!;
  const part = (index: number): PreparedWeight => {
    const w = new Float32Array(d * dHead);
    const column = index * d + head * dHead;
    for (let row = 0; row < d; row++) {
      w.set(block.qkvWeight.subarray(row * 3 * d + column, row * 3 * d + column + dHead), row * dHead);
    }
    // Registered with the model, so dispose() returns the copies with its own weights.
    return model.prepareOwned(w, d, dHead);
  };
  const bias = (index: number) => block.qkvBias.slice(index * d + head * dHead, index * d + (head + 1) * dHead);
  return {
    q: part(0),
    k: part(1),
    v: part(2),
    qBias: bias(0),
    kBias: bias(1),
    vBias: bias(2),
  };
}
