import "../dispose-symbols.ts";
import type { Backend, PreparedWeight } from "../backend/backend.ts";
import { assertBackend } from "../backend/check-backend.ts";
import { referenceBackend } from "../backend/reference/reference-backend.ts";
import { InputError } from "../errors.ts";
import { gatherRows } from "../tensor/indexing.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { Gpt2Config } from "./config.ts";
import { ModelDisposedError } from "./model-disposed.ts";
import { NO_PROCESSING, processingLabel } from "./process-weights.ts";
import { isWeightResident, peekWeight, sameWeight, type Gpt2Weights, type WeightProcessingSteps } from "./weights.ts";

export interface PreparedBlock {
  readonly qkv: PreparedWeight;
  readonly out: PreparedWeight;
  /** W_O rows of each head: [d_head, d_model], for per-head outputs (hook_result). */
  readonly outPerHead: readonly PreparedWeight[];
  readonly mlpIn: PreparedWeight;
  readonly mlpOut: PreparedWeight;
}

/**
 * A loaded GPT-2: config, raw weights, and the weights prepared for one matmul backend.
 *
 * Memory: when the backend keeps its own copy of each prepared weight (`ownsPreparedCopy`, e.g. the
 * WebAssembly backends pack into wasm memory), the model prepares each large matrix right after
 * reading it and keeps no plain copy: lazily materialized weights (see loadGpt2Weights) stay
 * unloaded until something reads them from `weights`, and the prepared weights hold no
 * `rowMajor`/`transposed` arrays. Otherwise (the reference backend) the plain arrays are the
 * prepared form and `weights` shares them.
 *
 * Lifetime: every weight the model prepares (also later, such as the per-head W_O copies) is
 * registered with it, and {@link dispose} (or `using model = …`) releases them all back to the
 * backend's memory; code that prepares more weights for this model registers them with
 * {@link track} / {@link prepareOwned} so they go too. A disposed model throws `disposed`.
 */
export class Gpt2Model {
  readonly config: Gpt2Config;
  readonly #weights: Gpt2Weights;
  readonly backend: Backend;
  readonly #prepared: { readonly blocks: readonly PreparedBlock[]; readonly unembed: PreparedWeight };
  /** The prepared W_Eᵀ (tied embeddings on a backend with its own copy): token embeddings are read from it. */
  #embeddingSource: PreparedWeight | null;
  /** Every weight prepared on `backend` for this model and not yet released. */
  readonly #owned = new Set<PreparedWeight>();
  #disposed = false;

  constructor(config: Gpt2Config, weights: Gpt2Weights, backend: Backend = referenceBackend) {
    assertBackend(backend, "Gpt2Model: backend");
    this.config = config;
    this.#weights = weights;
    this.backend = backend;
    try {
      this.#prepared = this.#prepareAll(config, weights, backend);
    } catch (error) {
      this.#releaseOwned(); // a load that fails half-way (e.g. out of wasm memory) leaves nothing behind
      throw error;
    }
    const tied = sameWeight(weights, "unembedTransposed", "tokenEmbedding");
    const gathers = backend.ownsPreparedCopy === true && tied && backend.gatherColumns !== undefined;
    this.#embeddingSource = gathers ? this.#prepared.unembed : null;
  }

  /** Raw weights (see loadGpt2Weights for which are read lazily). Throws `disposed` after dispose(). */
  get weights(): Gpt2Weights {
    this.assertUsable("Gpt2Model.weights");
    return this.#weights;
  }

  /**
   * The TransformerLens processing steps the weights have been through (all false: HuggingFace's
   * values); see processWeights.
   */
  get processing(): WeightProcessingSteps {
    return this.#weights.processing ?? NO_PROCESSING;
  }

  /** Which numbers the model gives: "huggingface", "transformer-lens", or the steps taken joined by "+". */
  get weightsProcessing(): string {
    return processingLabel(this.processing);
  }

  /** The weights prepared for `backend`. Throws `disposed` after dispose(). */
  get prepared(): { readonly blocks: readonly PreparedBlock[]; readonly unembed: PreparedWeight } {
    this.assertUsable("Gpt2Model.prepared");
    return this.#prepared;
  }

  /** True once {@link dispose} has run. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Throws `disposed` (ModelDisposedError) once the model has been disposed; `where` names the caller. */
  assertUsable(where = "Gpt2Model"): void {
    if (this.#disposed) throw new ModelDisposedError(where);
  }

  /**
   * Registers a weight prepared on this model's backend (e.g. a per-model cache of derived matrices)
   * so that {@link dispose} releases it; returns it.
   */
  track<W extends PreparedWeight>(weight: W): W {
    this.assertUsable("Gpt2Model.track");
    this.#owned.add(weight);
    return weight;
  }

  /** `backend.prepare(w, inDim, outDim)`, registered with {@link track}. */
  prepareOwned(w: Float32Array, inDim: number, outDim: number): PreparedWeight {
    this.assertUsable("Gpt2Model.prepareOwned");
    return this.track(this.backend.prepare(w, inDim, outDim));
  }

  /** `backend.prepareTransposed(wt, outDim, inDim)`, registered with {@link track}. */
  prepareOwnedTransposed(wt: Float32Array, outDim: number, inDim: number): PreparedWeight {
    this.assertUsable("Gpt2Model.prepareOwnedTransposed");
    return this.track(this.backend.prepareTransposed(wt, outDim, inDim));
  }

  /** Releases a weight registered with {@link track} now, instead of at dispose(). */
  releaseOwned(weight: PreparedWeight): void {
    if (!this.#owned.delete(weight)) {
      throw new InputError("Gpt2Model.releaseOwned: not a live weight registered with this model", "foreign_weight");
    }
    this.backend.release?.(weight);
  }

  /** How many prepared weights the model holds now (for leak checks). */
  get ownedWeightCount(): number {
    return this.#owned.size;
  }

  /**
   * Releases every weight the model prepared back to its backend's memory (for reuse by later
   * loads). The model cannot be used afterwards (`disposed`); calling dispose again does nothing.
   * Models made with {@link withBackend} are separate and need their own dispose.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#embeddingSource = null;
    this.#releaseOwned();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  #releaseOwned(): void {
    const release = this.backend.release?.bind(this.backend);
    const owned = [...this.#owned];
    this.#owned.clear();
    if (release === undefined) return;
    let failure: unknown;
    for (const weight of owned) {
      try {
        release(weight);
      } catch (error) {
        failure ??= error; // release the rest before reporting
      }
    }
    if (failure !== undefined) throw failure;
  }

  #prepareAll(config: Gpt2Config, weights: Gpt2Weights, backend: Backend) {
    const { dModel: d, dHead, nHeads, dMlp, dVocab } = config;
    const ownsCopy = backend.ownsPreparedCopy === true;
    const get = <T extends object, K extends keyof T & string>(owner: T, key: K): T[K] =>
      ownsCopy ? peekWeight(owner, key) : owner[key];
    const own = (p: PreparedWeight): PreparedWeight => (ownsCopy ? { ...p, rowMajor: null, transposed: null } : p);
    const prepare = (w: Float32Array, inDim: number, outDim: number) => this.#track(own(backend.prepare(w, inDim, outDim)));
    // The unembedding first: its transient plain copy (W_E, the largest matrix) is then dropped
    // before the other packed copies exist.
    // (In its own call, so no stack slot of this frame keeps the plain copy reachable.)
    const unembed = this.#track(prepareUnembed(weights, backend, ownsCopy, dVocab, d));
    const model = this;
    const blocks = weights.blocks.map((block) => {
      const qkv = prepare(get(block, "qkvWeight"), d, 3 * d);
      const out = prepare(get(block, "outWeight"), d, d);
      const mlpIn = prepare(get(block, "mlpInWeight"), d, dMlp);
      const mlpOut = prepare(get(block, "mlpOutWeight"), dMlp, d);
      // Per-head W_O copies are prepared on first use (hook_result, path patching, attribution):
      // a plain forward never needs them.
      let outPerHead: PreparedWeight[] | null = null;
      const prepared: PreparedBlock = {
        qkv, out, mlpIn, mlpOut,
        get outPerHead() {
          model.assertUsable("Gpt2Model.prepared.blocks[].outPerHead");
          if (outPerHead === null) {
            const outWeight = get(block, "outWeight");
            outPerHead = Array.from({ length: nHeads }, (_, h) => prepare(outWeight.subarray(h * dHead * d, (h + 1) * dHead * d), dHead, d));
          }
          return outPerHead;
        },
      };
      return prepared;
    });
    return { blocks, unembed };
  }

  #track(weight: PreparedWeight): PreparedWeight {
    this.#owned.add(weight);
    return weight;
  }

  /**
   * Token-embedding rows W_E[ids] as a tensor of shape [...idsShape, d_model]. With tied embeddings
   * on a backend that keeps its own copy (the WebAssembly ones) they are read from the prepared
   * unembedding with backend.gatherColumns (bit-identical), so the
   * forward pass does not need `weights.tokenEmbedding` resident.
   */
  embedTokens(ids: ArrayLike<number>, idsShape: readonly number[]): Tensor {
    this.assertUsable("Gpt2Model.embedTokens");
    const source = this.#embeddingSource;
    const { dModel: d, dVocab } = this.config;
    if (source === null || isWeightResident(this.weights, "tokenEmbedding")) {
      return gatherRows(this.weights.tokenEmbedding, d, ids, idsShape);
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= dVocab) {
        throw new InputError(`id ${id} at index ${i} is outside [0, ${dVocab})`, "index_out_of_range");
      }
    }
    const out = new Float32Array(ids.length * d);
    this.backend.gatherColumns!(source, ids, out);
    return new Tensor(out, [...idsShape, d]);
  }

  /** The same weights on another matmul backend. */
  withBackend(backend: Backend): Gpt2Model {
    this.assertUsable("Gpt2Model.withBackend");
    return new Gpt2Model(this.config, this.weights, backend);
  }
}

function prepareUnembed(weights: Gpt2Weights, backend: Backend, ownsCopy: boolean, dVocab: number, d: number): PreparedWeight {
  if (!ownsCopy) return backend.prepareTransposed(weights.unembedTransposed, dVocab, d);
  const p = backend.prepareTransposed(peekWeight(weights, "unembedTransposed"), dVocab, d);
  return { ...p, rowMajor: null, transposed: null };
}
