import { linear } from "../../backend/linear.ts";
import type { PreparedWeight } from "../../backend/backend.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import type { Gpt2Model } from "../model.ts";
import { peekWeight, type BlockWeights } from "../weights.ts";

/** Which linear map of a block: c_attn (qkv), attention's c_proj (out), mlp c_fc (mlpIn), mlp c_proj (mlpOut). */
export type BlockLinear = "qkv" | "out" | "mlpIn" | "mlpOut";

const WEIGHT_KEY: Readonly<Record<BlockLinear, keyof BlockWeights & string>> = {
  qkv: "qkvWeight", out: "outWeight", mlpIn: "mlpInWeight", mlpOut: "mlpOutWeight",
};

interface TransposedSet {
  readonly blocks: Map<string, PreparedWeight>[];
  unembed: PreparedWeight | null;
}

const perModel = new WeakMap<Gpt2Model, TransposedSet>();

function transposedSet(model: Gpt2Model): TransposedSet {
  let set = perModel.get(model);
  if (set === undefined) {
    set = { blocks: model.config.nLayers > 0 ? Array.from({ length: model.config.nLayers }, () => new Map()) : [], unembed: null };
    perModel.set(model, set);
  }
  return set;
}

/**
 * A weight the model holds as W [inDim, outDim] row-major, read without keeping a plain copy when
 * the backend packs its own (a lazily loaded weight is then only peeked at).
 */
function plainWeight<T extends object, K extends keyof T & string>(model: Gpt2Model, owner: T, key: K): T[K] {
  return model.backend.ownsPreparedCopy === true ? peekWeight(owner, key) : owner[key];
}

/**
 * Wᵀ of a block's linear map, prepared on the model's backend on first use (W's own row-major
 * array handed over as the transposed form, so nothing is transposed in memory) and registered with
 * the model, which releases it on dispose. On the WebAssembly backends this packs a second copy of
 * the block's weights: the backward's dX = dY·Wᵀ then runs on the same GEMM as the forward.
 */
export function transposedBlockWeight(model: Gpt2Model, layer: number, which: BlockLinear): PreparedWeight {
  const blocks = transposedSet(model).blocks[layer]!;
  let prepared = blocks.get(which);
  if (prepared === undefined) {
    const forward = model.prepared.blocks[layer]![which];
    const w = plainWeight(model, model.weights.blocks[layer]!, WEIGHT_KEY[which]);
    prepared = model.prepareOwnedTransposed(w, forward.inDim, forward.outDim);
    blocks.set(which, prepared);
  }
  return prepared;
}

/** W_O[head]ᵀ [d_model, d_head] (for the per-head `attn.hook_result`'s backward). */
export function transposedHeadOut(model: Gpt2Model, layer: number, head: number): PreparedWeight {
  const blocks = transposedSet(model).blocks[layer]!;
  const key = `outHead${head}`;
  let prepared = blocks.get(key);
  if (prepared === undefined) {
    const { dModel: d, dHead } = model.config;
    const w = plainWeight(model, model.weights.blocks[layer]!, "outWeight");
    prepared = model.prepareOwnedTransposed(w.slice(head * dHead * d, (head + 1) * dHead * d), dHead, d);
    blocks.set(key, prepared);
  }
  return prepared;
}

/** W_Q[head]ᵀ (resp. K, V) [d_head, d_model]: the head's columns of c_attn, W's own slice handed over transposed. */
export function transposedHeadInput(model: Gpt2Model, layer: number, head: number, input: "q" | "k" | "v"): PreparedWeight {
  const blocks = transposedSet(model).blocks[layer]!;
  const key = (channel: string, h: number) => `${channel}Head${h}`;
  if (!blocks.has(key(input, head))) {
    // Every head and channel of the layer at once: a lazily loaded c_attn is then read once, not once per head.
    const { dModel: d, dHead, nHeads } = model.config;
    const w = plainWeight(model, model.weights.blocks[layer]!, "qkvWeight");
    ["q", "k", "v"].forEach((channel, c) => {
      for (let h = 0; h < nHeads; h++) {
        if (blocks.has(key(channel, h))) continue;
        const column = c * d + h * dHead;
        const slice = new Float32Array(d * dHead);
        for (let row = 0; row < d; row++) slice.set(w.subarray(row * 3 * d + column, row * 3 * d + column + dHead), row * dHead);
        blocks.set(key(channel, h), model.prepareOwnedTransposed(slice, d, dHead));
      }
    });
  }
  return blocks.get(key(input, head))!;
}

/** W_Uᵀ [d_vocab, d_model] (the token embedding when tied) as a weight: dLogits·W_Uᵀ. */
export function transposedUnembed(model: Gpt2Model): PreparedWeight {
  const set = transposedSet(model);
  if (set.unembed === null) {
    const { dVocab, dModel } = model.config;
    set.unembed = model.prepareOwned(plainWeight(model, model.weights, "unembedTransposed"), dVocab, dModel);
  }
  return set.unembed;
}

/** ∂/∂x of y = x·W + b from ∂/∂y [.., outDim]: dY·Wᵀ → [.., inDim] (into `into` when given). */
export function linearInputBackward(model: Gpt2Model, dY: Tensor, transposed: PreparedWeight, into?: Float32Array): Tensor {
  return linear(model.backend, dY, transposed, null, into);
}

/** Floats the backward's transposed weights of `model` hold now (each a packed copy on the WebAssembly backends). */
export function transposedWeightFloats(model: Gpt2Model): number {
  const set = perModel.get(model);
  if (set === undefined) return 0;
  let floats = set.unembed === null ? 0 : set.unembed.inDim * set.unembed.outDim;
  for (const block of set.blocks) for (const w of block.values()) floats += w.inDim * w.outDim;
  return floats;
}

