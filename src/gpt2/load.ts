import { InputError } from "../errors.ts";
import { type Float32TensorSource, parseSafetensors } from "../io/safetensors.ts";
import { selectBackend } from "../backend/select.ts";
import { assertBackend } from "../backend/check-backend.ts";
import type { Backend } from "../backend/backend.ts";
import { type Gpt2Config, ModelLoadError, parseHfConfig } from "./config.ts";
import { loadGpt2Weights } from "./load-weights.ts";
import { Gpt2Model } from "./model.ts";
import { processWeights, resolveWeightProcessing, type WeightProcessing } from "./process-weights.ts";

export interface LoadGpt2Options {
  /**
   * "none" (the default: HuggingFace's values), "transformer-lens" (TransformerLens's
   * `from_pretrained` processing: fold_ln, center_writing_weights, center_unembed,
   * fold_value_biases), or an object choosing steps. See processWeights for what it costs.
   */
  readonly processing?: WeightProcessing;
}

export interface Gpt2Sources {
  /** The HF config.json, as text or already parsed. */
  readonly config: string | unknown;
  /** The bytes of model.safetensors. */
  readonly weights: Uint8Array;
}

/** Parses an HF config.json given as text or already parsed. */
export function parseConfigSource(config: string | unknown): Gpt2Config {
  let json = config;
  if (typeof json === "string") {
    try {
      json = JSON.parse(json);
    } catch (error) {
      throw new ModelLoadError("bad_config", `config.json is not valid JSON: ${(error as Error).message}`);
    }
  }
  return parseHfConfig(json);
}

/**
 * Builds a model from a parsed config and a source of its tensors (an in-memory SafetensorsFile, or
 * a file read on demand). The large matrices are read while the backend prepares them; see
 * loadGpt2Weights and Gpt2Model for what stays resident.
 */
export function loadGpt2FromTensors(
  config: Gpt2Config, tensors: Float32TensorSource, backend?: Backend, processing: WeightProcessing = "none",
): Gpt2Model {
  const weights = processWeights(loadGpt2Weights(tensors, config), config, processing);
  return new Gpt2Model(config, weights, backend ?? selectBackend());
}

/**
 * Builds a model from a HuggingFace `config.json` and `model.safetensors` held in memory. The
 * default backend is WebAssembly SIMD where available, else the plain TypeScript kernels.
 */
export function loadGpt2FromBytes(sources: Gpt2Sources, backend?: Backend, options: LoadGpt2Options = {}): Gpt2Model {
  if (backend != null) assertBackend(backend, "loadGpt2FromBytes: backend");
  if (typeof options !== "object" || options === null) {
    throw new InputError(`loadGpt2FromBytes: options must be an object, got ${options === null ? "null" : typeof options}`, "bad_option");
  }
  const processing = resolveWeightProcessing(options.processing, "loadGpt2FromBytes");
  const config = parseConfigSource(sources.config);
  return loadGpt2FromTensors(config, parseSafetensors(sources.weights), backend, processing);
}
