import { add, addInPlace } from "../tensor/elementwise.ts";
import { concatAxis, takeAxis } from "../tensor/indexing.ts";
import { softmaxLastAxis } from "../tensor/softmax.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { attentionScores, mixValues, splitQkv } from "./components/attention.ts";
import { type KeyMask, maskPaddedKeys, softmaxMasked } from "./components/attention-mask.ts";
import { maskedPositionEmbed, positionEmbed, tokenEmbed } from "./components/embed.ts";
import { attnOut, attnOutFromResult, attnQkv, attnResult } from "./components/attention-block.ts";
import {
  type LayerNormSite, layerNormAffineOf, layerNormNormalized, layerNormScaleAndNormalized, layerNormScaleOf, lnFinal,
} from "./components/layer-norm.ts";
import { mlpActivation, mlpOutFromNeurons, mlpPre } from "./components/mlp.ts";
import { unembedNormalized } from "./components/unembed.ts";
import { ForwardBuffers } from "./forward-buffers.ts";
import { checkForwardInputs } from "./forward-inputs.ts";
import { beginPassScratch } from "./forward-scratch.ts";
import { blockHook, type BlockHookSuffix, type HookName } from "./hook-names.ts";
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
  wants(name: HookName): boolean;
  /** Whether a hook may change this activation (then what follows must be computed from it). */
  mayModify(name: HookName): boolean;
  /** Called exactly once per hook point; returns the activation the pass continues with. */
  visit(name: HookName, value: Tensor, layer: number | null): Tensor;
}

export interface ForwardOptions {
  /** Begin at `blocks.{layer}.hook_resid_pre` with this residual stream [batch, pos, d_model]. */
  readonly start?: { readonly layer: number; readonly residual: Tensor };
  /** End the pass right after this hook point has been visited. */
  readonly stopAfter?: HookName;
  /** Unembed only these positions (logits become [batch, positions.length, d_vocab]). */
  readonly logitPositions?: readonly number[];
  /** Keys and values of earlier positions: the tokens continue them (positions start after them). */
  readonly past?: PastKeysValues;
  /**
   * [batch, pastPos + pos] of 1 (real token) and 0 (padding), as TransformerLens's attention_mask:
   * no query attends to a pad, real tokens' positions count real tokens only, a pad's position
   * embedding is 0 and a query that sees no real token gets a zero pattern. Pads' own activations
   * are meaningless.
   */
  readonly attentionMask?: Tensor;
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

/** One pass: the model, what sees its activations, and where its intermediates live. */
interface Pass {
  readonly model: Gpt2Model;
  readonly mask: KeyMask | null;
  readonly visitor: ActivationVisitor;
  readonly buffers: ForwardBuffers;
  readonly visit: (name: HookName, value: Tensor, layer: number | null) => Tensor;
}

export function runForward(
  model: Gpt2Model,
  tokens: TokenBatch | null,
  visitor: ActivationVisitor,
  options: ForwardOptions = {},
): ForwardOutput {
  const { pastPos } = checkForwardInputs(model.config, tokens, options);
  const scratch = beginPassScratch(model.backend.workspace);
  const mask = options.attentionMask;
  const pass: Pass = {
    model,
    mask: mask ? { data: mask.data, batch: mask.shape[0]!, keys: mask.shape[1]! } : null,
    visitor,
    buffers: new ForwardBuffers(scratch, (name) => visitor.wants(name)),
    visit: (name, value, layer) => {
      const next = visitor.visit(name, value, layer);
      if (name === options.stopAfter) throw new StopForward();
      return next;
    },
  };
  try {
    return { logits: forwardFrom(pass, tokens, pastPos, options) };
  } catch (error) {
    if (error instanceof StopForward) return { logits: null };
    throw error;
  } finally {
    scratch?.end();
  }
}

/** The pass itself, on inputs checkForwardInputs has accepted: embed, blocks, ln_final, unembed. */
function forwardFrom(pass: Pass, tokens: TokenBatch | null, pastPos: number, options: ForwardOptions): Tensor {
  const { model, visit, buffers, mask } = pass;
  const { config } = model;
  let residual: Tensor;
  let firstLayer = 0;
  if (options.start) {
    firstLayer = options.start.layer;
    residual = options.start.residual;
  } else {
    const { ids, batch, pos } = tokens!;
    const embed = visit("hook_embed", tokenEmbed(model, ids, [batch, pos]), null);
    const posEmbed = visit("hook_pos_embed", mask ? maskedPositionEmbed(model, mask, pos) : positionEmbed(model, batch, pos, pastPos), null);
    residual = add(embed, posEmbed);
  }
  for (let layer = firstLayer; layer < config.nLayers; layer++) {
    residual = runBlock(pass, layer, residual, options.past);
  }
  const lnBuffer = buffers.take("ln", residual.size, ["ln_final.hook_normalized"]);
  let finalResidual = hookedLayerNorm(pass, lnFinal, residual, lnBuffer);
  if (options.logitPositions) finalResidual = takeAxis(finalResidual, 1, options.logitPositions);
  return visit("logits", unembedNormalized(model, finalResidual, buffers.spareAfterBlocks()), null);
}

/**
 * A LayerNorm with its hook points `hook_scale` and `hook_normalized`; returns normalized·w + b
 * (over the normalized buffer when nothing holds it). Unless a hook may change the scale, scale and
 * normalized come from one pass (normalized before the scale's visit, which cannot see it), and are
 * recomputed should the visit return another scale anyway.
 */
function hookedLayerNorm(pass: Pass, site: LayerNormSite, x: Tensor, into: Float32Array | undefined): Tensor {
  const { model, visit, visitor } = pass;
  const layer = site.kind === "ln_final" ? null : site.layer;
  const scaleName: HookName = site.kind === "ln_final" ? "ln_final.hook_scale" : blockHook(site.layer, `${site.kind}.hook_scale`);
  const normalizedName: HookName = site.kind === "ln_final" ? "ln_final.hook_normalized" : blockHook(site.layer, `${site.kind}.hook_normalized`);
  let normalized: Tensor;
  if (visitor.mayModify(scaleName)) {
    normalized = layerNormNormalized(model, x, visit(scaleName, layerNormScaleOf(model, x), layer), into);
  } else {
    const both = layerNormScaleAndNormalized(model, x, into);
    const scale = visit(scaleName, both.scale, layer);
    normalized = scale === both.scale ? both.normalized : layerNormNormalized(model, x, scale, into);
  }
  normalized = visit(normalizedName, normalized, layer);
  return layerNormAffineOf(model, site, normalized, !visitor.wants(normalizedName));
}

/** One transformer block: resid_mid = resid_pre + attn(ln1(resid_pre)); resid_post = resid_mid + mlp(ln2(resid_mid)). */
function runBlock(pass: Pass, layer: number, residPreIn: Tensor, past: PastKeysValues | undefined): Tensor {
  const { model, visitor, buffers } = pass;
  const { config, backend } = model;
  const { dModel: d, dMlp, nHeads } = config;
  const hook = (suffix: BlockHookSuffix): HookName => blockHook(layer, suffix);
  const visit = (suffix: BlockHookSuffix, value: Tensor) => pass.visit(hook(suffix), value, layer);
  const held = (suffix: BlockHookSuffix) => visitor.wants(hook(suffix));
  const buffer = (role: Parameters<ForwardBuffers["take"]>[0], floats: number, ...suffixes: BlockHookSuffix[]) =>
    buffers.take(role, floats, suffixes.map(hook));

  const residPre = visit("hook_resid_pre", residPreIn);
  const [batch, pos] = residPre.shape as [number, number];
  const rows = batch * pos;

  // Attention.
  const ln1Out = hookedLayerNorm(pass, { kind: "ln1", layer }, residPre, buffer("ln", rows * d, "ln1.hook_normalized"));
  const qkv = attnQkv(model, layer, ln1Out, buffer("qkv", rows * 3 * d));
  const split = splitQkv(qkv, nHeads, {
    q: buffer("q", rows * d, "attn.hook_q"),
    k: buffer("k", rows * d, "attn.hook_k"),
    v: buffer("v", rows * d, "attn.hook_v"),
  });
  const q = visit("attn.hook_q", split.q);
  const k = visit("attn.hook_k", split.k);
  const v = visit("attn.hook_v", split.v);
  // hook_k / hook_v hold the new positions only; attention reads the past ones too.
  const keys = past ? concatAxis([past.keys[layer]!, k], 1) : k;
  const values = past ? concatAxis([past.values[layer]!, v], 1) : v;
  // The softmax overwrites the scores only when neither is held (the pattern then lives in their buffer).
  const patternInPlace = !held("attn.hook_attn_scores") && !held("attn.hook_pattern");
  const scoresBuffer = patternInPlace ? buffer("scores", batch * nHeads * pos * keys.shape[1]!) : undefined;
  const rawScores = attentionScores(q, keys, backend.kernels, scoresBuffer);
  const scores = visit("attn.hook_attn_scores", pass.mask ? maskPaddedKeys(rawScores, pass.mask) : rawScores);
  const softmaxInPlace = patternInPlace || !held("attn.hook_attn_scores");
  const pattern = visit(
    "attn.hook_pattern",
    pass.mask ? softmaxMasked(scores, pass.mask, backend.kernels, softmaxInPlace) : softmaxLastAxis(scores, backend.kernels, softmaxInPlace),
  );
  const z = visit("attn.hook_z", mixValues(pattern, values, backend.kernels, buffer("z", rows * d, "attn.hook_z")));
  // Per-head results are summed into attn_out only when a hook may edit them; otherwise attn_out
  // takes the usual z·W_O route, so merely caching hook_result leaves the logits bit-identical.
  const result = held("attn.hook_result") ? visit("attn.hook_result", attnResult(model, layer, z)) : null;
  let attn = result && visitor.mayModify(hook("attn.hook_result"))
    ? attnOutFromResult(model, layer, result)
    : attnOut(model, layer, z.reshape([batch, pos, d]), buffer("attnOut", rows * d, "hook_attn_out", "hook_resid_mid"));
  attn = visit("hook_attn_out", attn);
  // x + y = y + x exactly in floating point, so summing into attn_out's buffer is bit-identical.
  const residMid = visit("hook_resid_mid", held("hook_attn_out") ? add(residPre, attn) : addInPlace(attn, residPre, backend.kernels));

  // MLP.
  const ln2Out = hookedLayerNorm(pass, { kind: "ln2", layer }, residMid, buffer("ln", rows * d, "ln2.hook_normalized"));
  const pre = visit("mlp.hook_pre", mlpPre(model, layer, ln2Out, buffer("mlp", rows * dMlp, "mlp.hook_pre", "mlp.hook_post")));
  const post = visit("mlp.hook_post", mlpActivation(model, pre, !held("mlp.hook_pre")));
  // mlp_out's buffer becomes resid_post, which the next layer visits as its resid_pre.
  const outNames = [hook("hook_mlp_out"), hook("hook_resid_post")];
  if (layer + 1 < config.nLayers) outNames.push(blockHook(layer + 1, "hook_resid_pre"));
  const mlpOut = visit("hook_mlp_out", mlpOutFromNeurons(model, layer, post, buffers.take("mlpOut", rows * d, outNames)));
  return visit("hook_resid_post", held("hook_mlp_out") ? add(residMid, mlpOut) : addInPlace(mlpOut, residMid, backend.kernels));
}
