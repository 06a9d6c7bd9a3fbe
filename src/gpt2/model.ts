import type { MatmulBackend, PreparedWeight } from "../tensor/matmul.ts";
import { referenceBackend } from "../tensor/matmul.ts";
import type { Gpt2Config } from "./config.ts";
import type { Gpt2Weights } from "./weights.ts";

export interface PreparedBlock {
  readonly qkv: PreparedWeight;
  readonly out: PreparedWeight;
  /** W_O rows of each head: [d_head, d_model], for per-head outputs (hook_result). */
  readonly outPerHead: readonly PreparedWeight[];
  readonly mlpIn: PreparedWeight;
  readonly mlpOut: PreparedWeight;
}

/** A loaded GPT-2: config, raw weights, and the weights prepared for one matmul backend. */
export class Gpt2Model {
  readonly config: Gpt2Config;
  readonly weights: Gpt2Weights;
  readonly backend: MatmulBackend;
  readonly prepared: { readonly blocks: readonly PreparedBlock[]; readonly unembed: PreparedWeight };

  constructor(config: Gpt2Config, weights: Gpt2Weights, backend: MatmulBackend = referenceBackend) {
    this.config = config;
    this.weights = weights;
    this.backend = backend;
    const { dModel: d, dHead, nHeads, dMlp, dVocab } = config;
    this.prepared = {
      blocks: weights.blocks.map((block) => ({
        qkv: backend.prepare(block.qkvWeight, d, 3 * d),
        out: backend.prepare(block.outWeight, d, d),
        outPerHead: Array.from({ length: nHeads }, (_, h) =>
          backend.prepare(block.outWeight.subarray(h * dHead * d, (h + 1) * dHead * d), dHead, d),
        ),
        mlpIn: backend.prepare(block.mlpInWeight, d, dMlp),
        mlpOut: backend.prepare(block.mlpOutWeight, dMlp, d),
      })),
      unembed: backend.prepareTransposed(weights.unembedTransposed, dVocab, d),
    };
  }

  /** The same weights on another matmul backend. */
  withBackend(backend: MatmulBackend): Gpt2Model {
    return new Gpt2Model(this.config, this.weights, backend);
  }
}
