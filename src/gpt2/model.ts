import { InputError } from "../errors.ts";
import { packedMatrixOf } from "../tensor/backends.ts";
import { gatherRows } from "../tensor/indexing.ts";
import { assertMatmulBackend } from "../tensor/check-backend.ts";
import type { MatmulBackend, PreparedWeight } from "../tensor/matmul.ts";
import { referenceBackend } from "../tensor/matmul.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { PackedMatrix } from "../tensor/wasm/wasm-gemm.ts";
import { gatherPackedColumns } from "../tensor/wasm/packed-gather.ts";
import type { Gpt2Config } from "./config.ts";
import { isWeightResident, peekWeight, sameWeight, type Gpt2Weights } from "./weights.ts";

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
 */
export class Gpt2Model {
  readonly config: Gpt2Config;
  readonly weights: Gpt2Weights;
  readonly backend: MatmulBackend;
  readonly prepared: { readonly blocks: readonly PreparedBlock[]; readonly unembed: PreparedWeight };
  /** The packed W_Eᵀ (tied embeddings on a WebAssembly backend): token embeddings are read from it. */
  readonly #packedEmbedding: PackedMatrix | null;

  constructor(config: Gpt2Config, weights: Gpt2Weights, backend: MatmulBackend = referenceBackend) {
    assertMatmulBackend(backend, "Gpt2Model: backend");
    this.config = config;
    this.weights = weights;
    this.backend = backend;
    const { dModel: d, dHead, nHeads, dMlp, dVocab } = config;
    const ownsCopy = backend.ownsPreparedCopy === true;
    const get = <T extends object, K extends keyof T & string>(owner: T, key: K): T[K] =>
      ownsCopy ? peekWeight(owner, key) : owner[key];
    const own = (p: PreparedWeight): PreparedWeight => (ownsCopy ? { ...p, rowMajor: null, transposed: null } : p);
    const prepare = (w: Float32Array, inDim: number, outDim: number) => own(backend.prepare(w, inDim, outDim));
    // The unembedding first: its transient plain copy (W_E, the largest matrix) is then dropped
    // before the other packed copies exist.
    // (In its own call, so no stack slot of this frame keeps the plain copy reachable.)
    const unembed = prepareUnembed(weights, backend, ownsCopy, dVocab, d);
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
          if (outPerHead === null) {
            const outWeight = get(block, "outWeight");
            outPerHead = Array.from({ length: nHeads }, (_, h) => prepare(outWeight.subarray(h * dHead * d, (h + 1) * dHead * d), dHead, d));
          }
          return outPerHead;
        },
      };
      return prepared;
    });
    this.prepared = { blocks, unembed };
    const tied = sameWeight(weights, "unembedTransposed", "tokenEmbedding");
    this.#packedEmbedding = ownsCopy && tied ? packedMatrixOf(unembed) : null;
  }

  /**
   * Token-embedding rows W_E[ids] as a tensor of shape [...idsShape, d_model]. With tied embeddings
   * on a WebAssembly backend they are read from the packed unembedding (bit-identical), so the
   * forward pass does not need `weights.tokenEmbedding` resident.
   */
  embedTokens(ids: ArrayLike<number>, idsShape: readonly number[]): Tensor {
    const packed = this.#packedEmbedding;
    const { dModel: d, dVocab } = this.config;
    if (packed === null || isWeightResident(this.weights, "tokenEmbedding")) {
      return gatherRows(this.weights.tokenEmbedding, d, ids, idsShape);
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= dVocab) {
        throw new InputError(`id ${id} at index ${i} is outside [0, ${dVocab})`, "index_out_of_range");
      }
    }
    const out = new Float32Array(ids.length * d);
    gatherPackedColumns(packed, ids, out);
    return new Tensor(out, [...idsShape, d]);
  }

  /** The same weights on another matmul backend. */
  withBackend(backend: MatmulBackend): Gpt2Model {
    return new Gpt2Model(this.config, this.weights, backend);
  }
}

function prepareUnembed(weights: Gpt2Weights, backend: MatmulBackend, ownsCopy: boolean, dVocab: number, d: number): PreparedWeight {
  if (!ownsCopy) return backend.prepareTransposed(weights.unembedTransposed, dVocab, d);
  const p = backend.prepareTransposed(peekWeight(weights, "unembedTransposed"), dVocab, d);
  return { ...p, rowMajor: null, transposed: null };
}
