import { InputError } from "../errors.ts";
import { geluNew } from "../tensor/activation.ts";
import { add, addInPlace } from "../tensor/elementwise.ts";
import { concatAxis, gatherRows, takeAxis } from "../tensor/indexing.ts";
import { layerNormAffine, layerNormNormalize, layerNormScale } from "../tensor/layer-norm.ts";
import { linear } from "../tensor/matmul.ts";
import { softmaxLastAxis } from "../tensor/softmax.ts";
import { sameShape, shapeToString, Tensor } from "../tensor/tensor.ts";
import { attentionScores, headResults, mixValues, splitQkv, sumHeads } from "./attention.ts";
import type { Gpt2Model } from "./model.ts";
import type { TokenBatch } from "./tokens.ts";

/** Receives every activation of a forward pass, in order, under its TransformerLens hook name. */
export interface ActivationVisitor {
  /**
   * Whether the visitor needs this activation beyond its visit (a hook or cache keeps it). When
   * false, the pass may skip computing it if it is optional (per-head `attn.hook_result`) and may
   * overwrite its buffer after the visit (e.g. gelu in place over `mlp.hook_pre`).
   */
  wants(name: string): boolean;
  /** Whether a hook may change this activation (then what follows must be computed from it). */
  mayModify(name: string): boolean;
  /** Called exactly once per hook point; returns the activation the pass continues with. */
  visit(name: string, value: Tensor, layer: number | null): Tensor;
}

export interface ForwardOptions {
  /** Begin at `blocks.{layer}.hook_resid_pre` with this residual stream [batch, pos, d_model]. */
  readonly start?: { readonly layer: number; readonly residual: Tensor };
  /** End the pass right after this hook point has been visited. */
  readonly stopAfter?: string;
  /** Unembed only these positions (logits become [batch, positions.length, d_vocab]). */
  readonly logitPositions?: readonly number[];
  /** Keys and values of earlier positions: the tokens continue them (positions start after them). */
  readonly past?: PastKeysValues;
}

/**
 * Per layer, the keys and values [batch, pastPos, head, d_head] of positions before the tokens of a
 * run (like a TransformerLens key-value cache): the run's queries attend to them as well.
 */
export interface PastKeysValues {
  readonly keys: readonly Tensor[];
  readonly values: readonly Tensor[];
}

export interface ForwardOutput {
  /** Null when the pass stopped before the unembedding. */
  readonly logits: Tensor | null;
}

class StopForward {}

export function runForward(
  model: Gpt2Model,
  tokens: TokenBatch | null,
  visitor: ActivationVisitor,
  options: ForwardOptions = {},
): ForwardOutput {
  const visit = (name: string, value: Tensor, layer: number | null): Tensor => {
    const next = visitor.visit(name, value, layer);
    if (name === options.stopAfter) throw new StopForward();
    return next;
  };
  try {
    return { logits: forwardFrom(model, tokens, visit, visitor, options) };
  } catch (error) {
    if (error instanceof StopForward) return { logits: null };
    throw error;
  }
}

type Visit = (name: string, value: Tensor, layer: number | null) => Tensor;

function forwardFrom(
  model: Gpt2Model,
  tokens: TokenBatch | null,
  visit: Visit,
  visitor: ActivationVisitor,
  options: ForwardOptions,
): Tensor {
  const { config, weights } = model;
  const pastPos = options.past ? checkPast(model, options.past, tokens, options.start?.residual ?? null) : 0;
  let residual: Tensor;
  let firstLayer = 0;
  if (options.start) {
    firstLayer = options.start.layer;
    residual = options.start.residual;
    if (!Number.isInteger(firstLayer) || firstLayer < 0 || firstLayer > config.nLayers) {
      throw new InputError(`start layer ${firstLayer} is outside [0, ${config.nLayers}]`, "bad_layer");
    }
    if (residual.rank !== 3 || residual.shape[2] !== config.dModel) {
      throw new InputError(`start residual has shape ${shapeToString(residual.shape)}, expected [batch, pos, ${config.dModel}]`, "shape_mismatch");
    }
  } else {
    if (!tokens) throw new InputError("a forward pass from the embedding needs tokens", "bad_input");
    const { ids, batch, pos } = tokens;
    const embed = visit("hook_embed", model.embedTokens(ids, [batch, pos]), null);
    const positions = Int32Array.from({ length: batch * pos }, (_, i) => pastPos + (i % pos));
    const posEmbed = visit("hook_pos_embed", gatherRows(weights.positionEmbedding, config.dModel, positions, [batch, pos]), null);
    residual = add(embed, posEmbed);
  }
  for (let layer = firstLayer; layer < config.nLayers; layer++) {
    residual = runBlock(model, layer, residual, visit, visitor, options.past);
  }
  const scale = visit("ln_final.hook_scale", layerNormScale(residual, config.layerNormEps), null);
  const normalized = visit("ln_final.hook_normalized", layerNormNormalize(residual, scale), null);
  let finalResidual = layerNormAffine(normalized, weights.lnFinalWeight, weights.lnFinalBias, !visitor.wants("ln_final.hook_normalized"));
  if (options.logitPositions) finalResidual = takeAxis(finalResidual, 1, options.logitPositions);
  return visit("logits", linear(model.backend, finalResidual, model.prepared.unembed), null);
}

function checkPast(model: Gpt2Model, past: PastKeysValues, tokens: TokenBatch | null, start: Tensor | null): number {
  const { nLayers, nHeads, dHead, nCtx } = model.config;
  const batch = tokens?.batch ?? start?.shape[0] ?? 0;
  const pos = tokens?.pos ?? start?.shape[1] ?? 0;
  if (past.keys?.length !== nLayers || past.values?.length !== nLayers) {
    throw new InputError(`past keys and values must hold one tensor per layer (${nLayers}), got ${past.keys?.length} and ${past.values?.length}`, "bad_past");
  }
  const pastPos = past.keys[0]!.shape[1] ?? 0;
  const expected = [batch, pastPos, nHeads, dHead];
  for (const [what, list] of [["keys", past.keys], ["values", past.values]] as const) {
    list.forEach((t, layer) => {
      if (!sameShape(t.shape, expected)) {
        throw new InputError(`past ${what} of layer ${layer} have shape ${shapeToString(t.shape)}, expected ${shapeToString(expected)}`, "bad_past");
      }
    });
  }
  if (pastPos + pos > nCtx) {
    throw new InputError(`${pastPos} past positions plus ${pos} new ones exceed the model's context of ${nCtx}`, "prompt_too_long");
  }
  return pastPos;
}

function runBlock(
  model: Gpt2Model, layer: number, residPreIn: Tensor, visit: Visit, visitor: ActivationVisitor, past: PastKeysValues | undefined,
): Tensor {
  const { config, backend } = model;
  const weights = model.weights.blocks[layer]!;
  const prepared = model.prepared.blocks[layer]!;
  const eps = config.layerNormEps;
  const p = `blocks.${layer}.`;
  const residPre = visit(`${p}hook_resid_pre`, residPreIn, layer);

  const scale1 = visit(`${p}ln1.hook_scale`, layerNormScale(residPre, eps), layer);
  const normalized1 = visit(`${p}ln1.hook_normalized`, layerNormNormalize(residPre, scale1), layer);
  // Buffers no hook or cache holds are reused in place (less garbage per layer, lower peak memory).
  const free = (name: string) => !visitor.wants(`${p}${name}`);
  const ln1Out = layerNormAffine(normalized1, weights.ln1Weight, weights.ln1Bias, free("ln1.hook_normalized"));
  const split = splitQkv(linear(backend, ln1Out, prepared.qkv, weights.qkvBias), config.nHeads);
  const q = visit(`${p}attn.hook_q`, split.q, layer);
  const k = visit(`${p}attn.hook_k`, split.k, layer);
  const v = visit(`${p}attn.hook_v`, split.v, layer);
  // hook_k / hook_v hold the new positions only; attention reads the past ones too.
  const keys = past ? concatAxis([past.keys[layer]!, k], 1) : k;
  const values = past ? concatAxis([past.values[layer]!, v], 1) : v;
  const scores = visit(`${p}attn.hook_attn_scores`, attentionScores(q, keys, backend.kernels), layer);
  const pattern = visit(`${p}attn.hook_pattern`, softmaxLastAxis(scores, backend.kernels, free("attn.hook_attn_scores")), layer);
  const z = visit(`${p}attn.hook_z`, mixValues(pattern, values, backend.kernels), layer);
  // Per-head results are summed into attn_out only when a hook may edit them; otherwise attn_out
  // takes the usual z·W_O route, so merely caching hook_result leaves the logits bit-identical.
  const resultName = `${p}attn.hook_result`;
  const result = visitor.wants(resultName) ? visit(resultName, headResults(backend, z, prepared.outPerHead), layer) : null;
  let attnOut: Tensor;
  if (result && visitor.mayModify(resultName)) {
    attnOut = sumHeads(result, weights.outBias);
  } else {
    const [batch, pos] = z.shape as [number, number];
    attnOut = linear(backend, z.reshape([batch, pos, config.dModel]), prepared.out, weights.outBias);
  }
  attnOut = visit(`${p}hook_attn_out`, attnOut, layer);
  // x + y = y + x exactly in floating point, so summing into attn_out's / mlp_out's buffer is bit-identical.
  const residMid = visit(`${p}hook_resid_mid`, free("hook_attn_out") ? addInPlace(attnOut, residPre) : add(residPre, attnOut), layer);

  const scale2 = visit(`${p}ln2.hook_scale`, layerNormScale(residMid, eps), layer);
  const normalized2 = visit(`${p}ln2.hook_normalized`, layerNormNormalize(residMid, scale2), layer);
  const ln2Out = layerNormAffine(normalized2, weights.ln2Weight, weights.ln2Bias, free("ln2.hook_normalized"));
  const pre = visit(`${p}mlp.hook_pre`, linear(backend, ln2Out, prepared.mlpIn, weights.mlpInBias), layer);
  const post = visit(`${p}mlp.hook_post`, geluNew(pre, backend.kernels, free("mlp.hook_pre")), layer);
  const mlpOut = visit(`${p}hook_mlp_out`, linear(backend, post, prepared.mlpOut, weights.mlpOutBias), layer);
  return visit(`${p}hook_resid_post`, free("hook_mlp_out") ? addInPlace(mlpOut, residMid) : add(residMid, mlpOut), layer);
}
