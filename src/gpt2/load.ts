import { parseSafetensors } from "../io/safetensors.ts";
import { selectBackend } from "../tensor/backends.ts";
import type { MatmulBackend } from "../tensor/matmul.ts";
import { ModelLoadError, parseHfConfig } from "./config.ts";
import { loadGpt2Weights } from "./load-weights.ts";
import { Gpt2Model } from "./model.ts";

export interface Gpt2Sources {
  /** The HF config.json, as text or already parsed. */
  readonly config: string | unknown;
  /** The bytes of model.safetensors. */
  readonly weights: Uint8Array;
}

/**
 * Builds a model from a HuggingFace `config.json` and `model.safetensors` held in memory. The
 * default backend is WebAssembly SIMD where available, else the plain TypeScript kernels.
 */
export function loadGpt2FromBytes(sources: Gpt2Sources, backend?: MatmulBackend): Gpt2Model {
  let json = sources.config;
  if (typeof json === "string") {
    try {
      json = JSON.parse(json);
    } catch (error) {
      throw new ModelLoadError("bad_config", `config.json is not valid JSON: ${(error as Error).message}`);
    }
  }
  const config = parseHfConfig(json);
  const weights = loadGpt2Weights(parseSafetensors(sources.weights), config);
  return new Gpt2Model(config, weights, backend ?? selectBackend());
}
