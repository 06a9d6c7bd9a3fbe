import type { SafetensorsFile } from "../io/safetensors.ts";
import { type Gpt2Config, ModelLoadError } from "./config.ts";
import type { BlockWeights, Gpt2Weights } from "./weights.ts";

/** Finds the key prefix: "" (original GPT-2 checkpoint) or "transformer." (save_pretrained today). */
function detectPrefix(file: SafetensorsFile): string {
  if (file.has("transformer.wte.weight")) return "transformer.";
  if (file.has("wte.weight")) return "";
  throw new ModelLoadError(
    "missing_tensor",
    'weights: no token embedding found (looked for "wte.weight" and "transformer.wte.weight"); is this a GPT-2 safetensors file?',
  );
}

function tensorReader(file: SafetensorsFile, prefix: string) {
  return (name: string, shape: readonly number[]): Float32Array => {
    const key = prefix + name;
    if (!file.has(key)) throw new ModelLoadError("missing_tensor", `weights: tensor "${key}" is missing`);
    const info = file.info(key);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new ModelLoadError(
        "config_mismatch",
        `weights: tensor "${key}" has shape [${info.shape.join(", ")}] but config.json implies [${shape.join(", ")}]`,
      );
    }
    return file.getFloat32(key);
  };
}

function checkLayerCount(file: SafetensorsFile, prefix: string, config: Gpt2Config): void {
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

export function loadGpt2Weights(file: SafetensorsFile, config: Gpt2Config): Gpt2Weights {
  const prefix = detectPrefix(file);
  const read = tensorReader(file, prefix);
  checkLayerCount(file, prefix, config);
  const { dModel: d, dMlp, dVocab, nCtx } = config;
  const blocks: BlockWeights[] = [];
  for (let layer = 0; layer < config.nLayers; layer++) {
    const h = `h.${layer}.`;
    blocks.push({
      ln1Weight: read(`${h}ln_1.weight`, [d]),
      ln1Bias: read(`${h}ln_1.bias`, [d]),
      qkvWeight: read(`${h}attn.c_attn.weight`, [d, 3 * d]),
      qkvBias: read(`${h}attn.c_attn.bias`, [3 * d]),
      outWeight: read(`${h}attn.c_proj.weight`, [d, d]),
      outBias: read(`${h}attn.c_proj.bias`, [d]),
      ln2Weight: read(`${h}ln_2.weight`, [d]),
      ln2Bias: read(`${h}ln_2.bias`, [d]),
      mlpInWeight: read(`${h}mlp.c_fc.weight`, [d, dMlp]),
      mlpInBias: read(`${h}mlp.c_fc.bias`, [dMlp]),
      mlpOutWeight: read(`${h}mlp.c_proj.weight`, [dMlp, d]),
      mlpOutBias: read(`${h}mlp.c_proj.bias`, [d]),
    });
  }
  const tokenEmbedding = read("wte.weight", [dVocab, d]);
  const hasLmHead = file.has("lm_head.weight");
  if (!config.tiedEmbeddings && !hasLmHead) {
    throw new ModelLoadError("missing_tensor", 'weights: config.json unties the embeddings but "lm_head.weight" is missing');
  }
  const unembedTransposed =
    !config.tiedEmbeddings && hasLmHead ? tensorReader(file, "")("lm_head.weight", [dVocab, d]) : tokenEmbedding;
  return {
    tokenEmbedding,
    positionEmbedding: read("wpe.weight", [nCtx, d]),
    blocks,
    lnFinalWeight: read("ln_f.weight", [d]),
    lnFinalBias: read("ln_f.bias", [d]),
    unembedTransposed,
  };
}
