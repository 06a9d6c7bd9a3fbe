import type { Gpt2Config } from "../../gpt2/config.ts";
import { GT_PROMPT_LENGTH } from "./dataset.ts";

export type GreaterThanMemoryConfig = Pick<Gpt2Config, "nLayers" | "dModel" | "nHeads" | "dHead" | "dVocab">;

/**
 * Floats one cached run (`collectPathActivations`) holds per prompt position: each layer's
 * resid_pre (layer 0's is the embedding), resid_mid, k, v, z and mlp_out, the final residual and
 * ln_final's scale.
 */
function cachedFloatsPerPosition(config: GreaterThanMemoryConfig): number {
  const { nLayers, dModel, nHeads, dHead } = config;
  return nLayers * (3 * dModel + 3 * nHeads * dHead) + dModel + 1;
}

/**
 * What `runGreaterThanPipeline` holds for `n` prompts beyond the weights, in bytes: the cached clean
 * and corrupted runs and one [n, d_vocab] matrix of END logits. A lower bound on its peak memory.
 */
export function greaterThanMemoryBytes(config: GreaterThanMemoryConfig, n: number, promptLength = GT_PROMPT_LENGTH): number {
  return 4 * (2 * n * promptLength * cachedFloatsPerPosition(config) + n * config.dVocab);
}

/** Floats of the largest single array the pipeline makes for `n` prompts (END logits, or one cached activation). */
export function greaterThanLargestArrayFloats(config: GreaterThanMemoryConfig, n: number, promptLength = GT_PROMPT_LENGTH): number {
  return n * Math.max(config.dVocab, promptLength * Math.max(config.dModel, config.nHeads * config.dHead));
}
