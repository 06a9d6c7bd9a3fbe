import { geluNew } from "../tensor/activation.ts";
import { add, addInPlace } from "../tensor/elementwise.ts";
import { concatAxis, gatherRows, takeAxis } from "../tensor/indexing.ts";
import { layerNormAffine, layerNormNormalize, layerNormScale, layerNormScaleNormalize } from "../tensor/layer-norm.ts";
import { linear } from "../tensor/matmul.ts";
import { softmaxLastAxis } from "../tensor/softmax.ts";
import { Tensor } from "../tensor/tensor.ts";
import { attentionScores, headResults, mixValues, splitQkv, sumHeads } from "./attention.ts";
import { checkForwardInputs } from "./forward-inputs.ts";
import { beginPassScratch, type PassScratch } from "./forward-scratch.ts";
import type { Gpt2Model } from "./model.ts";
import type { TokenBatch } from "./tokens.ts";

/** Receives every activation of a forward pass, in order, under its TransformerLens hook name. */
export interface ActivationVisitor {
  /**
   * Whether the visitor needs this activation beyond its visit (a hook or cache keeps it). When
   * false, the pass may skip computing it if it is optional (per-head `attn.hook_result`), may
   * overwrite its buffer after the visit (e.g. gelu in place over `mlp.hook_pre`) and may hand it
   * over in a buffer of the backend's workspace that the next layer reuses.
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
  const { pastPos } = checkForwardInputs(model.config, tokens, options);
  const scratch = beginPassScratch(model.backend.workspace);
  try {
    return { logits: forwardFrom(model, tokens, pastPos, { visit, visitor, scratch }, options) };
  } catch (error) {
    if (error instanceof StopForward) return { logits: null };
    throw error;
  } finally {
    scratch?.end();
  }
}

type Visit = (name: string, value: Tensor, layer: number | null) => Tensor;

interface Pass {
  readonly visit: Visit;
  readonly visitor: ActivationVisitor;
  /** Role buffers in the backend's workspace; null: plain arrays. */
  readonly scratch: PassScratch | null;
}

/**
 * Workspace slots of a block's unheld intermediates. Values share a slot when the earlier one is dead
 * before the later one is written (in a block: ln1 → qkv → q, k, v → scores/pattern → z → attn_out
 * (+ resid_pre = resid_mid) → ln2 → mlp pre/post → mlp_out (+ resid_mid = resid_post)):
 * - ln1/ln2/ln_final and z: ln1 is dead once qkv is computed, z once attn_out is;
 * - qkv, the scores/pattern and attn_out/resid_mid: qkv is dead after the split, the pattern after z,
 *   and resid_mid after resid_post;
 * - q and the MLP's hidden layer: q is dead after the scores;
 * - k, v: alive until the scores / z;
 * - mlp_out/resid_post: the next block reads it as resid_pre until its resid_mid, so it needs a slot
 *   that nothing before that writes.
 */
const SLOT = { ln: "a", z: "a", qkv: "b", scores: "b", attnOut: "b", q: "c", mlp: "c", k: "d", v: "e", mlpOut: "f" } as const;

/**
 * A workspace buffer for `role` when none of `names` (the hook points the value is visited as,
 * itself or aliased by in-place updates) is wanted by the visitor; undefined: allocate as usual.
 */
function scratchFor(pass: Pass, role: string, floats: number, names: readonly string[]): Float32Array | undefined {
  if (pass.scratch === null || names.some((name) => pass.visitor.wants(name))) return undefined;
  return pass.scratch.take(role, floats);
}

/** The pass itself, on inputs checkForwardInputs has accepted. */
function forwardFrom(model: Gpt2Model, tokens: TokenBatch | null, pastPos: number, pass: Pass, options: ForwardOptions): Tensor {
  const { visit } = pass;
  const { config, weights } = model;
  let residual: Tensor;
  let firstLayer = 0;
  if (options.start) {
    firstLayer = options.start.layer;
    residual = options.start.residual;
  } else {
    const { ids, batch, pos } = tokens!;
    const embed = visit("hook_embed", model.embedTokens(ids, [batch, pos]), null);
    const positions = Int32Array.from({ length: batch * pos }, (_, i) => pastPos + (i % pos));
    const posEmbed = visit("hook_pos_embed", gatherRows(weights.positionEmbedding, config.dModel, positions, [batch, pos]), null);
    residual = add(embed, posEmbed);
  }
  for (let layer = firstLayer; layer < config.nLayers; layer++) {
    residual = runBlock(model, layer, residual, pass, options.past);
  }
  const lnBuffer = scratchFor(pass, SLOT.ln, residual.size, ["ln_final.hook_normalized"]);
  let finalResidual = hookedLayerNorm(model, pass, "ln_final.", residual, weights.lnFinalWeight, weights.lnFinalBias, null, lnBuffer);
  if (options.logitPositions) finalResidual = takeAxis(finalResidual, 1, options.logitPositions);
  // The blocks' qkv and MLP buffers are dead now: the logits can be staged through them (memory
  // already resident) rather than through staging memory of the backend's own.
  const spare = pass.scratch?.spare([SLOT.qkv, SLOT.mlp]);
  return visit("logits", linear(model.backend, finalResidual, model.prepared.unembed, null, undefined, spare), null);
}

/**
 * A LayerNorm with its hook points `${prefix}hook_scale` and `${prefix}hook_normalized`; returns
 * normalized·weight + bias (over the normalized buffer when nothing holds it). Unless a hook may
 * change the scale, scale and normalized come from one pass (normalized before the scale's visit,
 * which cannot see it), and are recomputed should the visit return another scale anyway.
 */
function hookedLayerNorm(
  model: Gpt2Model, pass: Pass, prefix: string, x: Tensor, weight: Float32Array, bias: Float32Array, layer: number | null, into: Float32Array | undefined,
): Tensor {
  const { visit, visitor } = pass;
  const { kernels } = model.backend;
  const eps = model.config.layerNormEps;
  const scaleName = `${prefix}hook_scale`;
  const normalizedName = `${prefix}hook_normalized`;
  let normalized: Tensor;
  if (visitor.mayModify(scaleName)) {
    normalized = layerNormNormalize(x, visit(scaleName, layerNormScale(x, eps, kernels), layer), into, kernels);
  } else {
    const both = layerNormScaleNormalize(x, eps, into, kernels);
    const scale = visit(scaleName, both.scale, layer);
    normalized = scale === both.scale ? both.normalized : layerNormNormalize(x, scale, into, kernels);
  }
  normalized = visit(normalizedName, normalized, layer);
  return layerNormAffine(normalized, weight, bias, !visitor.wants(normalizedName), kernels);
}

function runBlock(
  model: Gpt2Model, layer: number, residPreIn: Tensor, pass: Pass, past: PastKeysValues | undefined,
): Tensor {
  const { config, backend } = model;
  const { visit, visitor } = pass;
  const weights = model.weights.blocks[layer]!;
  const prepared = model.prepared.blocks[layer]!;
  const p = `blocks.${layer}.`;
  const residPre = visit(`${p}hook_resid_pre`, residPreIn, layer);
  const [batch, pos] = residPre.shape as [number, number];
  const rows = batch * pos;
  const { dModel: d, dMlp, nHeads } = config;
  // Buffers no hook or cache holds are reused in place (less garbage per layer, lower peak memory),
  // and where the backend has a workspace they live there, one per role, reused by every layer.
  const free = (name: string) => !visitor.wants(`${p}${name}`);
  const buffer = (role: string, floats: number, ...names: string[]) => scratchFor(pass, role, floats, names.map((n) => `${p}${n}`));

  const ln1Out = hookedLayerNorm(model, pass, `${p}ln1.`, residPre, weights.ln1Weight, weights.ln1Bias, layer, buffer(SLOT.ln, rows * d, "ln1.hook_normalized"));
  const qkv = linear(backend, ln1Out, prepared.qkv, weights.qkvBias, buffer(SLOT.qkv, rows * 3 * d));
  const split = splitQkv(qkv, nHeads, {
    q: buffer(SLOT.q, rows * d, "attn.hook_q"),
    k: buffer(SLOT.k, rows * d, "attn.hook_k"),
    v: buffer(SLOT.v, rows * d, "attn.hook_v"),
  });
  const q = visit(`${p}attn.hook_q`, split.q, layer);
  const k = visit(`${p}attn.hook_k`, split.k, layer);
  const v = visit(`${p}attn.hook_v`, split.v, layer);
  // hook_k / hook_v hold the new positions only; attention reads the past ones too.
  const keys = past ? concatAxis([past.keys[layer]!, k], 1) : k;
  const values = past ? concatAxis([past.values[layer]!, v], 1) : v;
  const keyCount = keys.shape[1]!;
  // The softmax overwrites the scores only when neither is held (the pattern then lives in their buffer).
  const patternInPlace = free("attn.hook_attn_scores") && free("attn.hook_pattern");
  const scoresBuffer = patternInPlace ? buffer(SLOT.scores, batch * nHeads * pos * keyCount) : undefined;
  const scores = visit(`${p}attn.hook_attn_scores`, attentionScores(q, keys, backend.kernels, scoresBuffer), layer);
  const pattern = visit(`${p}attn.hook_pattern`, softmaxLastAxis(scores, backend.kernels, patternInPlace || free("attn.hook_attn_scores")), layer);
  const z = visit(`${p}attn.hook_z`, mixValues(pattern, values, backend.kernels, buffer(SLOT.z, rows * d, "attn.hook_z")), layer);
  // Per-head results are summed into attn_out only when a hook may edit them; otherwise attn_out
  // takes the usual z·W_O route, so merely caching hook_result leaves the logits bit-identical.
  const resultName = `${p}attn.hook_result`;
  const result = visitor.wants(resultName) ? visit(resultName, headResults(backend, z, prepared.outPerHead), layer) : null;
  let attnOut: Tensor;
  if (result && visitor.mayModify(resultName)) {
    attnOut = sumHeads(result, weights.outBias);
  } else {
    attnOut = linear(backend, z.reshape([batch, pos, d]), prepared.out, weights.outBias, buffer(SLOT.attnOut, rows * d, "hook_attn_out", "hook_resid_mid"));
  }
  attnOut = visit(`${p}hook_attn_out`, attnOut, layer);
  // x + y = y + x exactly in floating point, so summing into attn_out's / mlp_out's buffer is bit-identical.
  const residMid = visit(`${p}hook_resid_mid`, free("hook_attn_out") ? addInPlace(attnOut, residPre, backend.kernels) : add(residPre, attnOut), layer);

  const ln2Out = hookedLayerNorm(model, pass, `${p}ln2.`, residMid, weights.ln2Weight, weights.ln2Bias, layer, buffer(SLOT.ln, rows * d, "ln2.hook_normalized"));
  const preBuffer = buffer(SLOT.mlp, rows * dMlp, "mlp.hook_pre", "mlp.hook_post");
  const pre = visit(`${p}mlp.hook_pre`, linear(backend, ln2Out, prepared.mlpIn, weights.mlpInBias, preBuffer), layer);
  const post = visit(`${p}mlp.hook_post`, geluNew(pre, backend.kernels, free("mlp.hook_pre")), layer);
  // mlp_out's buffer becomes resid_post, which the next layer visits as its resid_pre.
  const residNames = ["hook_mlp_out", "hook_resid_post"].map((n) => `${p}${n}`);
  if (layer + 1 < config.nLayers) residNames.push(`blocks.${layer + 1}.hook_resid_pre`);
  const mlpOut = visit(`${p}hook_mlp_out`, linear(backend, post, prepared.mlpOut, weights.mlpOutBias, scratchFor(pass, SLOT.mlpOut, rows * d, residNames)), layer);
  return visit(`${p}hook_resid_post`, free("hook_mlp_out") ? addInPlace(mlpOut, residMid, backend.kernels) : add(residMid, mlpOut), layer);
}
