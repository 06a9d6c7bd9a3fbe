/**
 * TransformerLens's weight processing (HookedTransformer.process_weights_: fold_layer_norm,
 * center_writing_weights, center_unembed, fold_value_biases, applied in that order) on HuggingFace
 * GPT-2 weights. Each step keeps the log-probabilities (the logits up to a constant per position).
 *
 * Lazily loaded matrices stay lazy: the processed matrix is computed from the source each time a
 * backend reads it. Biases that depend on a matrix (b + b_ln·W, b_O + b_V·W_O, b_U = b_lnf·W_U) are
 * computed now, reading that matrix once more (transiently).
 */
import { InputError } from "../errors.ts";
import type { Gpt2Config } from "./config.ts";
import {
  centred, centreColumns, centreRows, matrixTimesVector, scaleColumns, scaleRows, vectorTimesMatrix,
} from "./weight-maths.ts";
import { type BlockWeights, defineDerivedWeight, type Gpt2Weights, peekWeight, type WeightProcessingSteps } from "./weights.ts";

export type { WeightProcessingSteps } from "./weights.ts";

/**
 * "none" (HuggingFace's values, the default), "transformer-lens" (every step, as `from_pretrained`
 * does by default) or the steps to take (those not named are not taken).
 */
export type WeightProcessing = "none" | "transformer-lens" | Partial<WeightProcessingSteps>;

export const NO_PROCESSING: WeightProcessingSteps = Object.freeze({
  foldLn: false, centerWritingWeights: false, centerUnembed: false, foldValueBiases: false,
});

export const TRANSFORMER_LENS_PROCESSING: WeightProcessingSteps = Object.freeze({
  foldLn: true, centerWritingWeights: true, centerUnembed: true, foldValueBiases: true,
});

const STEPS = Object.keys(NO_PROCESSING) as (keyof WeightProcessingSteps)[];

/** The steps `processing` asks for; a bad value is an InputError (`bad_option`) naming `where`. */
export function resolveWeightProcessing(processing: unknown, where: string): WeightProcessingSteps {
  if (processing === undefined || processing === "none") return NO_PROCESSING;
  if (processing === "transformer-lens") return TRANSFORMER_LENS_PROCESSING;
  if (typeof processing !== "object" || processing === null || Array.isArray(processing)) {
    throw new InputError(
      `${where}: processing must be "none", "transformer-lens" or an object of steps (${STEPS.join(", ")}), got ${JSON.stringify(processing)}`,
      "bad_option",
    );
  }
  const steps: Record<string, boolean> = { ...NO_PROCESSING };
  for (const [key, value] of Object.entries(processing)) {
    if (!STEPS.includes(key as keyof WeightProcessingSteps)) {
      throw new InputError(`${where}: processing has no step "${key}" (the steps: ${STEPS.join(", ")})`, "bad_option");
    }
    if (value === undefined) continue;
    if (typeof value !== "boolean") {
      throw new InputError(`${where}: processing.${key} must be a boolean, got ${JSON.stringify(value)}`, "bad_option");
    }
    steps[key] = value;
  }
  return Object.freeze(steps as unknown as WeightProcessingSteps);
}

/** "huggingface" (no step), "transformer-lens" (all four) or the steps taken joined by "+". */
export function processingLabel(steps: WeightProcessingSteps): string {
  const taken = STEPS.filter((step) => steps[step]);
  if (taken.length === 0) return "huggingface";
  if (taken.length === STEPS.length) return "transformer-lens";
  return taken.join("+");
}

/**
 * `weights` processed by the steps `processing` asks for (see the module comment). With no step,
 * `weights` itself. Weights that have been processed already are refused (`already_processed`):
 * the steps are not idempotent in what they report.
 */
export function processWeights(weights: Gpt2Weights, config: Gpt2Config, processing: WeightProcessing): Gpt2Weights {
  const steps = resolveWeightProcessing(processing, "processWeights");
  if (!STEPS.some((step) => steps[step])) return weights;
  if (weights.processing !== undefined && STEPS.some((step) => weights.processing![step])) {
    throw new InputError(`processWeights: these weights have been processed already (${processingLabel(weights.processing)})`, "already_processed");
  }
  const { dModel: d } = config;
  const processed: Record<string, unknown> = {};
  defineDerivedWeight(processed, "tokenEmbedding", weights, "tokenEmbedding", steps.centerWritingWeights ? (w) => centreRows(w, d) : null);
  processed.positionEmbedding = steps.centerWritingWeights ? centreRows(weights.positionEmbedding, d) : weights.positionEmbedding;
  processed.blocks = weights.blocks.map((block) => processBlock(block, steps, config));
  processed.lnFinalWeight = steps.foldLn ? new Float32Array(d).fill(1) : weights.lnFinalWeight;
  processed.lnFinalBias = steps.foldLn ? new Float32Array(d) : weights.lnFinalBias;
  const gamma = weights.lnFinalWeight;
  const unembedTransform = steps.foldLn || steps.centerUnembed
    ? (w: Float32Array) => {
      const scaled = steps.foldLn ? scaleColumns(w, gamma) : w.slice();
      // W_U [d_model, d_vocab] centred over the vocabulary is W_Uᵀ centred per column.
      return steps.centerUnembed ? centreColumns(scaled, d, true) : scaled;
    }
    : null;
  defineDerivedWeight(processed, "unembedTransposed", weights, "unembedTransposed", unembedTransform);
  const bias = unembedBias(weights, steps);
  if (bias !== undefined) processed.unembedBias = bias;
  processed.processing = steps;
  return processed as unknown as Gpt2Weights;
}

/** b_U: the source's, plus b_lnf·W_U (fold_ln), centred (center_unembed); undefined when zero. */
function unembedBias(weights: Gpt2Weights, steps: WeightProcessingSteps): Float32Array | undefined {
  let bias = weights.unembedBias;
  if (steps.foldLn) {
    const folded = Float32Array.from(matrixTimesVector(peekWeight(weights, "unembedTransposed"), weights.lnFinalBias));
    if (bias !== undefined) for (let t = 0; t < folded.length; t++) folded[t] = folded[t]! + bias[t]!;
    bias = folded;
  }
  return bias !== undefined && steps.centerUnembed ? centred(bias) : bias;
}

function processBlock(block: BlockWeights, steps: WeightProcessingSteps, config: Gpt2Config): BlockWeights {
  const { dModel: d, dMlp } = config;
  const { foldLn, centerWritingWeights: centreWriting } = steps;
  const qkvBias = foldLn ? foldedBias(block.qkvBias, block.ln1Bias, peekWeight(block, "qkvWeight")) : block.qkvBias.slice();
  // Properties in the order of the BlockWeights interface.
  const out: Record<string, unknown> = {};
  out.ln1Weight = foldLn ? new Float32Array(d).fill(1) : block.ln1Weight;
  out.ln1Bias = foldLn ? new Float32Array(d) : block.ln1Bias;
  // LayerNormPre's output is centred, so the weights reading it are centred over d_model too (TL's center_weights).
  defineDerivedWeight(out, "qkvWeight", block, "qkvWeight", foldLn ? (w) => centreColumns(scaleRows(w, block.ln1Weight, 3 * d), 3 * d, true) : null);
  out.qkvBias = qkvBias;
  defineDerivedWeight(out, "outWeight", block, "outWeight", centreWriting ? (w) => centreRows(w, d) : null);
  let outBias = centreWriting ? centred(block.outBias) : block.outBias;
  if (steps.foldValueBiases) {
    // Σ_h b_V[h]·W_O[h] = b_V (all heads, [d_model]) · W_O: attention patterns sum to 1.
    const valueBias = qkvBias.subarray(2 * d, 3 * d);
    outBias = foldedBias(outBias, valueBias, peekWeight(out as unknown as BlockWeights, "outWeight"));
    valueBias.fill(0);
  }
  out.outBias = outBias;
  out.ln2Weight = foldLn ? new Float32Array(d).fill(1) : block.ln2Weight;
  out.ln2Bias = foldLn ? new Float32Array(d) : block.ln2Bias;
  defineDerivedWeight(out, "mlpInWeight", block, "mlpInWeight", foldLn ? (w) => centreColumns(scaleRows(w, block.ln2Weight, dMlp), dMlp, true) : null);
  out.mlpInBias = foldLn ? foldedBias(block.mlpInBias, block.ln2Bias, peekWeight(block, "mlpInWeight")) : block.mlpInBias;
  defineDerivedWeight(out, "mlpOutWeight", block, "mlpOutWeight", centreWriting ? (w) => centreRows(w, d) : null);
  out.mlpOutBias = centreWriting ? centred(block.mlpOutBias) : block.mlpOutBias;
  return out as unknown as BlockWeights;
}

/** bias + v·w (w [v.length, bias.length]) as a new array. */
function foldedBias(bias: Float32Array, v: Float32Array, w: Float32Array): Float32Array {
  const product = vectorTimesMatrix(v, w, bias.length);
  return bias.map((b, i) => b + product[i]!);
}
