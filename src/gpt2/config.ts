import { Gpt2LensError } from "../errors.ts";

export class ModelLoadError extends Gpt2LensError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** GPT-2 hyperparameters, named as in TransformerLens. */
export interface Gpt2Config {
  readonly nLayers: number;
  readonly dModel: number;
  readonly nHeads: number;
  readonly dHead: number;
  readonly dMlp: number;
  readonly nCtx: number;
  readonly dVocab: number;
  readonly layerNormEps: number;
  readonly tiedEmbeddings: boolean;
}

type Json = Record<string, unknown>;

function positiveInteger(config: Json, key: string, fallback?: number): number {
  const value = config[key] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new ModelLoadError("bad_config", `config.json: "${key}" must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Reads a HuggingFace GPT-2 `config.json` object; rejects architectures this library does not implement. */
export function parseHfConfig(json: unknown): Gpt2Config {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ModelLoadError("bad_config", "config.json must hold a JSON object");
  }
  const config = json as Json;
  if (config.model_type !== undefined && config.model_type !== "gpt2") {
    throw new ModelLoadError("bad_config", `config.json: model_type "${String(config.model_type)}" is not "gpt2"`);
  }
  const activation = config.activation_function ?? "gelu_new";
  if (activation !== "gelu_new") {
    throw new ModelLoadError("unsupported_config", `config.json: activation_function "${String(activation)}" is not supported (only gelu_new)`);
  }
  if (config.scale_attn_by_inverse_layer_idx === true) {
    throw new ModelLoadError("unsupported_config", "config.json: scale_attn_by_inverse_layer_idx=true is not supported");
  }
  if (config.scale_attn_weights === false) {
    throw new ModelLoadError("unsupported_config", "config.json: scale_attn_weights=false is not supported");
  }
  const dModel = positiveInteger(config, "n_embd");
  const nHeads = positiveInteger(config, "n_head");
  if (dModel % nHeads !== 0) {
    throw new ModelLoadError("bad_config", `config.json: n_embd ${dModel} is not divisible by n_head ${nHeads}`);
  }
  const eps = config.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== "number" || !(eps > 0)) {
    throw new ModelLoadError("bad_config", `config.json: "layer_norm_epsilon" must be a positive number, got ${JSON.stringify(eps)}`);
  }
  return {
    nLayers: positiveInteger(config, "n_layer"),
    dModel,
    nHeads,
    dHead: dModel / nHeads,
    dMlp: config.n_inner == null ? 4 * dModel : positiveInteger(config, "n_inner"),
    nCtx: positiveInteger(config, "n_positions", config.n_ctx as number | undefined),
    dVocab: positiveInteger(config, "vocab_size"),
    layerNormEps: eps,
    tiedEmbeddings: config.tie_word_embeddings !== false,
  };
}
