import type { Gpt2Model } from "../gpt2/model.ts";
import type { PreparedWeight } from "../tensor/matmul.ts";

export interface HeadProjections {
  /** W_Q/W_K/W_V of one head as [d_model, d_head], with their biases. */
  readonly q: PreparedWeight;
  readonly k: PreparedWeight;
  readonly v: PreparedWeight;
  readonly qBias: Float32Array;
  readonly kBias: Float32Array;
  readonly vBias: Float32Array;
  /** W_O of the head, [d_head, d_model]. */
  readonly out: PreparedWeight;
}

const cache = new WeakMap<Gpt2Model, HeadProjections[][]>();

/** Per-head slices of c_attn, copied once per model into contiguous [d_model, d_head] matrices. */
export function headProjections(model: Gpt2Model, layer: number, head: number): HeadProjections {
  let perLayer = cache.get(model);
  if (!perLayer) {
    perLayer = model.weights.blocks.map((_, l) => Array.from({ length: model.config.nHeads }, (_, h) => build(model, l, h)));
    cache.set(model, perLayer);
  }
  return perLayer[layer]![head]!;
}

function build(model: Gpt2Model, layer: number, head: number): HeadProjections {
  const { dModel: d, dHead } = model.config;
  const block = model.weights.blocks[layer]!;
  const slice = (part: number) => {
    const w = new Float32Array(d * dHead);
    const column = part * d + head * dHead;
    for (let row = 0; row < d; row++) {
      w.set(block.qkvWeight.subarray(row * 3 * d + column, row * 3 * d + column + dHead), row * dHead);
    }
    return model.backend.prepare(w, d, dHead);
  };
  const bias = (part: number) => block.qkvBias.slice(part * d + head * dHead, part * d + (head + 1) * dHead);
  return {
    q: slice(0),
    k: slice(1),
    v: slice(2),
    qBias: bias(0),
    kBias: bias(1),
    vBias: bias(2),
    out: model.prepared.blocks[layer]!.outPerHead[head]!,
  };
}
