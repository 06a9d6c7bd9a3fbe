import { InputError } from "../errors.ts";
import { Tensor } from "../tensor/tensor.ts";
import { checkVocabularyTokens, unembedColumns } from "./components/unembed.ts";
import { FactoredMatrix, transposeMatrix } from "./factored-matrix.ts";
import type { Gpt2Model } from "./model.ts";
import { type BlockWeights, peekWeight } from "./weights.ts";

/**
 * The model's parameters under TransformerLens's names and in its shapes (HookedTransformer.W_Q
 * etc.), each a copy built on first access and then kept: editing one does not change the model.
 * They are the values the model computes with, so processed ones when it was loaded with
 * `processing` (see Gpt2Model.weightsProcessing).
 */
export class TlWeights {
  readonly #model: Gpt2Model;
  readonly #cache = new Map<string, Tensor>();

  constructor(model: Gpt2Model) {
    this.#model = model;
  }

  /** [d_vocab, d_model]. */
  get W_E(): Tensor {
    return this.#get("W_E", () => {
      const { dVocab, dModel } = this.#model.config;
      return new Tensor(peekWeight(this.#model.weights, "tokenEmbedding").slice(), [dVocab, dModel]);
    });
  }

  /** [n_ctx, d_model]. */
  get W_pos(): Tensor {
    const { nCtx, dModel } = this.#model.config;
    return this.#get("W_pos", () => new Tensor(this.#model.weights.positionEmbedding.slice(), [nCtx, dModel]));
  }

  /** [n_layers, n_heads, d_model, d_head]. */
  get W_Q(): Tensor {
    return this.#get("W_Q", () => this.#inputWeights(0));
  }

  get W_K(): Tensor {
    return this.#get("W_K", () => this.#inputWeights(1));
  }

  get W_V(): Tensor {
    return this.#get("W_V", () => this.#inputWeights(2));
  }

  /** [n_layers, n_heads, d_head, d_model]: c_proj's rows, d_head per head. */
  get W_O(): Tensor {
    const { nLayers, nHeads, dHead, dModel } = this.#model.config;
    return this.#get("W_O", () => this.#stack("outWeight", [nLayers, nHeads, dHead, dModel]));
  }

  /** [n_layers, n_heads, d_head]. */
  get b_Q(): Tensor {
    return this.#get("b_Q", () => this.#inputBiases(0));
  }

  get b_K(): Tensor {
    return this.#get("b_K", () => this.#inputBiases(1));
  }

  get b_V(): Tensor {
    return this.#get("b_V", () => this.#inputBiases(2));
  }

  /** [n_layers, d_model]. */
  get b_O(): Tensor {
    const { nLayers, dModel } = this.#model.config;
    return this.#get("b_O", () => this.#stack("outBias", [nLayers, dModel]));
  }

  /** [n_layers, d_model, d_mlp]. */
  get W_in(): Tensor {
    const { nLayers, dModel, dMlp } = this.#model.config;
    return this.#get("W_in", () => this.#stack("mlpInWeight", [nLayers, dModel, dMlp]));
  }

  /** [n_layers, d_mlp]. */
  get b_in(): Tensor {
    const { nLayers, dMlp } = this.#model.config;
    return this.#get("b_in", () => this.#stack("mlpInBias", [nLayers, dMlp]));
  }

  /** [n_layers, d_mlp, d_model]. */
  get W_out(): Tensor {
    const { nLayers, dModel, dMlp } = this.#model.config;
    return this.#get("W_out", () => this.#stack("mlpOutWeight", [nLayers, dMlp, dModel]));
  }

  /** [n_layers, d_model]. */
  get b_out(): Tensor {
    const { nLayers, dModel } = this.#model.config;
    return this.#get("b_out", () => this.#stack("mlpOutBias", [nLayers, dModel]));
  }

  /** [d_model, d_vocab] (the transpose of what HuggingFace stores). */
  get W_U(): Tensor {
    return this.#get("W_U", () => {
      const { dVocab, dModel } = this.#model.config;
      const wUt = peekWeight(this.#model.weights, "unembedTransposed");
      const out = new Float32Array(dVocab * dModel);
      for (let t = 0; t < dVocab; t++) for (let j = 0; j < dModel; j++) out[j * dVocab + t] = wUt[t * dModel + j]!;
      return new Tensor(out, [dModel, dVocab]);
    });
  }

  /** [d_vocab]: zeros for HuggingFace's GPT-2, which has no unembedding bias. */
  get b_U(): Tensor {
    const { dVocab } = this.#model.config;
    return this.#get("b_U", () => new Tensor(this.#model.weights.unembedBias?.slice() ?? new Float32Array(dVocab), [dVocab]));
  }

  /** A head's OV circuit W_V[l, h]·W_O[l, h], [d_model, d_model] of rank d_head: x·OV is what the head writes for a value x. */
  OV(layer: number, head: number): FactoredMatrix {
    this.#checkHead(layer, head, "OV");
    return new FactoredMatrix(this.#headSlice(this.W_V, layer, head), this.#headSlice(this.W_O, layer, head));
  }

  /** A head's QK circuit W_Q[l, h]·W_K[l, h]ᵀ, [d_model, d_model]: x_q·QK·x_kᵀ is its attention score (before 1/√d_head and biases). */
  QK(layer: number, head: number): FactoredMatrix {
    this.#checkHead(layer, head, "QK");
    return new FactoredMatrix(this.#headSlice(this.W_Q, layer, head), transposeMatrix(this.#headSlice(this.W_K, layer, head)));
  }

  /** The rows W_E[tokens], [tokens.length, d_model]. */
  embeddings(tokens: readonly number[]): Tensor {
    checkVocabularyTokens(this.#model, tokens, "TlWeights.embeddings");
    return this.#model.embedTokens(tokens, [tokens.length]);
  }

  /** The columns W_U[:, tokens], [d_model, tokens.length]. */
  unembeddings(tokens: readonly number[]): Tensor {
    return transposeMatrix(unembedColumns(this.#model, tokens));
  }

  #get(name: string, build: () => Tensor): Tensor {
    this.#model.assertUsable(`TlWeights.${name}`);
    let tensor = this.#cache.get(name);
    if (tensor === undefined) this.#cache.set(name, (tensor = build()));
    return tensor;
  }

  /** Each layer's `key` one after another, as `shape`. */
  #stack(key: keyof BlockWeights, shape: readonly number[]): Tensor {
    const blocks = this.#model.weights.blocks;
    const per = shape.slice(1).reduce((a, b) => a * b, 1);
    const out = new Float32Array(blocks.length * per);
    blocks.forEach((block, layer) => out.set(peekWeight(block, key), layer * per));
    return new Tensor(out, shape);
  }

  /** W_Q, W_K or W_V (part 0, 1, 2 of c_attn's columns), [n_layers, n_heads, d_model, d_head]. */
  #inputWeights(part: number): Tensor {
    const { nLayers, nHeads, dModel: d, dHead } = this.#model.config;
    const out = new Float32Array(nLayers * nHeads * d * dHead);
    this.#model.weights.blocks.forEach((block, layer) => {
      const qkv = peekWeight(block, "qkvWeight");
      for (let h = 0; h < nHeads; h++) {
        const base = (layer * nHeads + h) * d * dHead;
        const column = part * d + h * dHead;
        for (let row = 0; row < d; row++) out.set(qkv.subarray(row * 3 * d + column, row * 3 * d + column + dHead), base + row * dHead);
      }
    });
    return new Tensor(out, [nLayers, nHeads, d, dHead]);
  }

  /** b_Q, b_K or b_V, [n_layers, n_heads, d_head]. */
  #inputBiases(part: number): Tensor {
    const { nLayers, nHeads, dModel: d, dHead } = this.#model.config;
    const out = new Float32Array(nLayers * d);
    this.#model.weights.blocks.forEach((block, layer) => out.set(block.qkvBias.subarray(part * d, (part + 1) * d), layer * d));
    return new Tensor(out, [nLayers, nHeads, dHead]);
  }

  /** stacked[layer, head] of a [n_layers, n_heads, r, c] tensor, as [r, c] (a copy). */
  #headSlice(stacked: Tensor, layer: number, head: number): Tensor {
    const [, nHeads, r, c] = stacked.shape as [number, number, number, number];
    const start = (layer * nHeads + head) * r * c;
    return new Tensor(stacked.data.slice(start, start + r * c), [r, c]);
  }

  #checkHead(layer: number, head: number, where: string): void {
    const { nLayers, nHeads } = this.#model.config;
    if (!Number.isInteger(layer) || layer < 0 || layer >= nLayers || !Number.isInteger(head) || head < 0 || head >= nHeads) {
      throw new InputError(`TlWeights.${where}: no head ${layer}.${head} (layers 0…${nLayers - 1}, heads 0…${nHeads - 1})`, "bad_index");
    }
  }
}

const views = new WeakMap<Gpt2Model, TlWeights>();

/** The TransformerLens-named weights of a model (or of a HookedGpt2's model), one object per model. */
export function tlWeights(model: Gpt2Model | { readonly model: Gpt2Model }): TlWeights {
  const gpt2 = "model" in model ? model.model : model;
  let view = views.get(gpt2);
  if (view === undefined) views.set(gpt2, (view = new TlWeights(gpt2)));
  return view;
}
