import type { Float32TensorSource } from "../io/safetensors.ts";
import { type Gpt2Config, ModelLoadError } from "./config.ts";
import { finiteCheckedSource } from "./finite-weights.ts";
import { type BlockWeights, defineLazyWeight, type Gpt2Weights, lazyWeight } from "./weights.ts";

/** Finds the key prefix: "" (original GPT-2 checkpoint) or "transformer." (save_pretrained today). */
function detectPrefix(file: Float32TensorSource): string {
  if (file.has("transformer.wte.weight")) return "transformer.";
  if (file.has("wte.weight")) return "";
  throw new ModelLoadError(
    "missing_tensor",
    'weights: no token embedding found (looked for "wte.weight" and "transformer.wte.weight"); is this a GPT-2 safetensors file?',
  );
}

/** Checks that `prefix + name` exists with `shape` and a float dtype; returns its key. */
function tensorChecker(file: Float32TensorSource, prefix: string) {
  return (name: string, shape: readonly number[]): string => {
    const key = prefix + name;
    if (!file.has(key)) throw new ModelLoadError("missing_tensor", `weights: tensor "${key}" is missing`);
    const info = file.info(key);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new ModelLoadError(
        "config_mismatch",
        `weights: tensor "${key}" has shape [${info.shape.join(", ")}] but config.json implies [${shape.join(", ")}]`,
      );
    }
    // A non-float dtype fails now, with getFloat32's own error, rather than on first access.
    if (info.dtype !== "F32" && info.dtype !== "F16" && info.dtype !== "BF16") file.getFloat32(key);
    return key;
  };
}

function checkLayerCount(file: Float32TensorSource, prefix: string, config: Gpt2Config): void {
  const pattern = new RegExp(`^${prefix.replace(".", "\\.")}h\\.(\\d+)\\.`);
  let maxLayer = -1;
  for (const name of file.names) {
    const match = pattern.exec(name);
    if (match) maxLayer = Math.max(maxLayer, Number(match[1]));
  }
  if (maxLayer + 1 !== config.nLayers) {
    throw new ModelLoadError(
      "config_mismatch",
      `weights hold ${maxLayer + 1} blocks (h.0…h.${maxLayer}) but config.json says n_layer = ${config.nLayers}`,
    );
  }
}

/**
 * GPT-2 weights from a tensor source. Every tensor's presence, shape and dtype is checked up front,
 * and its values (no NaN or ±Infinity, `non_finite_weight`) as it is read.
 * The position embedding, layer norms and biases are read now; the large matrices (qkvWeight,
 * outWeight, mlpInWeight, mlpOutWeight, tokenEmbedding and unembedTransposed — one shared array
 * when tied) are lazily materialized: read from `file` on first access and then kept. Gpt2Model reads them with peekWeight, so a backend that
 * packs its own copy never makes them resident.
 */
export function loadGpt2Weights(source: Float32TensorSource, config: Gpt2Config): Gpt2Weights {
  const file = finiteCheckedSource(source);
  const prefix = detectPrefix(file);
  const check = tensorChecker(file, prefix);
  const read = (name: string, shape: readonly number[]) => file.getFloat32(check(name, shape));
  const lazy = (key: string) =>
    lazyWeight(
      () => file.getFloat32(key),
      file.getFloat32Transient ? () => file.getFloat32Transient!(key) : () => file.getFloat32(key),
    );
  checkLayerCount(file, prefix, config);
  const { dModel: d, dMlp, dVocab, nCtx } = config;
  const blocks: BlockWeights[] = [];
  for (let layer = 0; layer < config.nLayers; layer++) {
    const h = `h.${layer}.`;
    const block: Record<string, Float32Array> = {};
    const eager = (key: keyof BlockWeights, name: string, shape: readonly number[]) => {
      block[key] = read(name, shape);
    };
    const later = (key: keyof BlockWeights, name: string, shape: readonly number[]) => {
      defineLazyWeight(block, key, lazy(check(name, shape)));
    };
    // Properties in the order of the BlockWeights interface; tensors checked in the order of old.
    eager("ln1Weight", `${h}ln_1.weight`, [d]);
    eager("ln1Bias", `${h}ln_1.bias`, [d]);
    later("qkvWeight", `${h}attn.c_attn.weight`, [d, 3 * d]);
    eager("qkvBias", `${h}attn.c_attn.bias`, [3 * d]);
    later("outWeight", `${h}attn.c_proj.weight`, [d, d]);
    eager("outBias", `${h}attn.c_proj.bias`, [d]);
    eager("ln2Weight", `${h}ln_2.weight`, [d]);
    eager("ln2Bias", `${h}ln_2.bias`, [d]);
    later("mlpInWeight", `${h}mlp.c_fc.weight`, [d, dMlp]);
    eager("mlpInBias", `${h}mlp.c_fc.bias`, [dMlp]);
    later("mlpOutWeight", `${h}mlp.c_proj.weight`, [dMlp, d]);
    eager("mlpOutBias", `${h}mlp.c_proj.bias`, [d]);
    blocks.push(block as unknown as BlockWeights);
  }
  const tokenEmbedding = lazy(check("wte.weight", [dVocab, d]));
  const hasLmHead = file.has("lm_head.weight");
  if (!config.tiedEmbeddings && !hasLmHead) {
    throw new ModelLoadError("missing_tensor", 'weights: config.json unties the embeddings but "lm_head.weight" is missing');
  }
  const unembed = !config.tiedEmbeddings && hasLmHead ? lazy(tensorChecker(file, "")("lm_head.weight", [dVocab, d])) : tokenEmbedding;
  const weights = {} as Gpt2Weights;
  defineLazyWeight(weights, "tokenEmbedding", tokenEmbedding);
  Object.assign(weights, {
    positionEmbedding: read("wpe.weight", [nCtx, d]),
    blocks,
    lnFinalWeight: read("ln_f.weight", [d]),
    lnFinalBias: read("ln_f.bias", [d]),
  });
  // Tied: one lazily loaded array behind both names.
  defineLazyWeight(weights, "unembedTransposed", unembed);
  return weights;
}
