import { InputError } from "../errors.ts";
import { add, addInPlace } from "../tensor/elementwise.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { KeyMask } from "./components/attention-mask.ts";
import { type LayerNormSite, layerNormAffineOf, lnFinal } from "./components/layer-norm.ts";
import { mlpPre } from "./components/mlp.ts";
import { unembedNormalized } from "./components/unembed.ts";
import {
  attentionScoresBackward, maskScoreGradients, mixValuesBackward, softmaxBackward, splitQkvBackward, sumHeadsBackward,
} from "./backward/attention-backward.ts";
import { layerNormAffineBackward, layerNormInputBackward, layerNormScaleBackward } from "./backward/layer-norm-backward.ts";
import type { LogitMetric } from "./backward/logit-metrics.ts";
import { geluNewBackward } from "./backward/mlp-backward.ts";
import { linearInputBackward, transposedBlockWeight, transposedHeadOut, transposedUnembed } from "./backward/transposed-weights.ts";
import { gatherFlatRows, metricWithLogitGradient, scatterFlatRows } from "./backward/unembed-backward.ts";
import type { PastKeysValues } from "./forward.ts";
import { blockHook, type BlockHookSuffix, type HookName, parseHookName } from "./hook-names.ts";
import type { Gpt2Model } from "./model.ts";
import { beginPassScratch, type PassScratch } from "./forward-scratch.ts";

/** Receives the gradient of the metric at every hook point, in reverse order of the forward pass. */
export interface GradientVisitor {
  /** Whether the visitor needs this gradient (a hook or store): optional ones (`attn.hook_result`, `logits`) are then computed. */
  wants(name: HookName): boolean;
  /** Whether a hook may change this gradient (then what flows on is computed from the returned one). */
  mayModify(name: HookName): boolean;
  /** Called exactly once per hook point; returns the gradient the backward continues with. */
  visit(name: HookName, grad: Tensor, layer: number | null): Tensor;
}

/**
 * The forward activations the backward reads (as the forward's hooks left them). mlp.hook_pre is
 * recomputed from ln2.hook_normalized when absent, so a forward need not keep [batch, pos, d_mlp]
 * per layer.
 */
const SAVED_BLOCK_SUFFIXES: readonly BlockHookSuffix[] = [
  "ln1.hook_scale", "ln1.hook_normalized", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_pattern",
  "ln2.hook_scale", "ln2.hook_normalized",
];

/** Whether the backward reads the forward's activation `name` (keep it when running the forward). */
export function savedForBackward(name: HookName): boolean {
  if (name === "ln_final.hook_scale" || name === "ln_final.hook_normalized") return true;
  const suffix = parseHookName(name)?.suffix;
  return suffix !== undefined && SAVED_BLOCK_SUFFIXES.includes(suffix);
}

export interface BackwardInputs {
  /** The forward's activation at a hook point that {@link savedForBackward} names (or mlp.hook_pre if kept). */
  readonly saved: (name: HookName) => Tensor | undefined;
  readonly batch: number;
  /** The positions the forward computed (after the past's, if any). */
  readonly pos: number;
  /** The past keys and values the forward continued (constants: no gradient flows into them). */
  readonly past?: PastKeysValues;
  /** The padded batch's key mask, as the forward used it ([batch, pastPos + pos]). */
  readonly mask: KeyMask | null;
  readonly metric: LogitMetric;
  /** The rows b·pos + p whose logits the metric reads, in its order (metricRows). */
  readonly metricRows: Int32Array;
}

interface Pass {
  readonly model: Gpt2Model;
  readonly inputs: BackwardInputs;
  readonly visitor: GradientVisitor;
  readonly visit: (name: HookName, grad: Tensor, layer: number | null) => Tensor;
  readonly saved: (name: HookName) => Tensor;
  /**
   * A workspace buffer for `role` (reused by every layer, so only for values dead before the next
   * layer takes the role) when the visitor holds none of `names`, the hook points the value is seen
   * as; else undefined (a fresh array).
   */
  readonly take: (role: string, floats: number, names: readonly HookName[]) => Float32Array | undefined;
  /** True when the visitor neither holds nor edits any of `names` (and a workspace backs the pass). */
  readonly unheld: (names: readonly HookName[]) => boolean;
}

/**
 * Reverse mode through the whole model, from the metric of the logits back to the embeddings,
 * visiting the gradient at every hook point (each once, in reverse order of the forward). Returns
 * the metric's value. Weight gradients are not computed.
 */
export function runBackward(model: Gpt2Model, inputs: BackwardInputs, visitor: GradientVisitor): { value: number } {
  const scratch = beginPassScratch(model.backend.workspace);
  try {
    return runBackwardOn(model, inputs, visitor, scratch);
  } finally {
    scratch?.end();
  }
}

function runBackwardOn(model: Gpt2Model, inputs: BackwardInputs, visitor: GradientVisitor, scratch: PassScratch | null): { value: number } {
  const visited = new WeakSet<Float32Array>();
  const pass: Pass = {
    model, inputs, visitor,
    // A gradient already seen under another name (the residual stream, attn_out, mlp_out, the
    // embeddings) is copied before a hook that may edit it in place gets it.
    visit: (name, grad, layer) => {
      const given = visited.has(grad.data) && visitor.mayModify(name) ? grad.clone() : grad;
      const next = visitor.visit(name, given, layer);
      visited.add(next.data);
      return next;
    },
    saved: (name) => {
      const value = inputs.saved(name);
      if (value === undefined) {
        throw new InputError(`runBackward: no forward activation "${name}" (keep every hook point savedForBackward names)`, "missing_activation");
      }
      return value;
    },
    unheld: (names) => scratch !== null && !names.some((name) => visitor.wants(name) || visitor.mayModify(name)),
    take: (role, floats, names) => (pass.unheld(names) ? scratch!.take(`backward.${role}`, floats) : undefined),
  };
  const { value, dResidual } = unembedBackward(pass);
  let grad = dResidual;
  for (let layer = model.config.nLayers - 1; layer >= 0; layer--) grad = blockBackward(pass, layer, grad);
  pass.visit("hook_pos_embed", grad, null);
  pass.visit("hook_embed", grad, null);
  return { value };
}

/** logits → ln_final: the metric's gradient at the rows it reads, back to the final residual stream. */
function unembedBackward(pass: Pass): { value: number; dResidual: Tensor } {
  const { model, inputs, visitor } = pass;
  const { batch, pos, metricRows } = inputs;
  const d = model.config.dModel;
  const normalized = pass.saved("ln_final.hook_normalized");
  const lnOut = layerNormAffineOf(model, lnFinal, gatherFlatRows(normalized, metricRows), true);
  const { value, dLogits } = metricWithLogitGradient(model, inputs.metric, unembedNormalized(model, lnOut));
  let rows = metricRows;
  let dRows = dLogits;
  if (visitor.wants("logits") || visitor.mayModify("logits")) {
    const dense = scatterFlatRows(dLogits, metricRows, [batch, pos, model.config.dVocab]);
    dRows = pass.visit("logits", dense, null).reshape([batch * pos, model.config.dVocab]);
    rows = Int32Array.from({ length: batch * pos }, (_, i) => i);
  }
  const dLnOut = scatterFlatRows(linearInputBackward(model, dRows, transposedUnembed(model)), rows, [batch, pos, d]);
  return { value, dResidual: layerNormBackward(pass, lnFinal, dLnOut) };
}

/**
 * The backward of a LayerNorm, visiting `hook_normalized` then `hook_scale`; returns ∂/∂ its input
 * (into `into` when given). `ownOut`: dOut is a workspace buffer nothing else reads afterwards.
 */
function layerNormBackward(pass: Pass, site: LayerNormSite, dOut: Tensor, into?: Float32Array, ownOut = false): Tensor {
  const layer = site.kind === "ln_final" ? null : site.layer;
  const name = (suffix: "hook_scale" | "hook_normalized"): HookName =>
    site.kind === "ln_final" ? `ln_final.${suffix}` : blockHook(site.layer, `${site.kind}.${suffix}`);
  const normalized = pass.saved(name("hook_normalized"));
  const scale = pass.saved(name("hook_scale"));
  const reuse = ownOut && pass.unheld([name("hook_normalized")]);
  const dNormalized = pass.visit(name("hook_normalized"), layerNormAffineBackward(pass.model, site, dOut, reuse ? dOut.data : undefined), layer);
  const kernels = pass.model.backend.kernels;
  const dScale = pass.visit(name("hook_scale"), layerNormScaleBackward(dNormalized, normalized, scale, kernels), layer);
  return layerNormInputBackward(dNormalized, dScale, normalized, scale, into, kernels);
}

/**
 * One block in reverse: ∂/∂resid_post → ∂/∂resid_pre. Gradients nothing holds live in workspace
 * buffers by role, each dead before the next layer takes it: "mlp" (∂ mlp.hook_post, then pre, then
 * ∂ c_attn's output), "in" (∂ of a LayerNorm's output, overwritten by ∂ hook_normalized; ∂ hook_z),
 * "mid" (∂ resid_mid), "pre" (∂ resid_pre, which the next layer reads as ∂ resid_post until its
 * ∂ resid_mid is summed), "pattern", "q", "k", "v".
 */
function blockBackward(pass: Pass, layer: number, dResidPostIn: Tensor): Tensor {
  const { model, visitor, inputs } = pass;
  const { nHeads, dHead, dModel: d, dMlp } = model.config;
  const { batch, pos } = inputs;
  const rows = batch * pos;
  const kernels = model.backend.kernels;
  const hook = (suffix: BlockHookSuffix): HookName => blockHook(layer, suffix);
  const visit = (suffix: BlockHookSuffix, grad: Tensor) => pass.visit(hook(suffix), grad, layer);
  const saved = (suffix: BlockHookSuffix) => pass.saved(hook(suffix));
  const take = (role: string, floats: number, ...suffixes: BlockHookSuffix[]) => pass.take(role, floats, suffixes.map(hook));
  /** grad + other, in place over `other` when it is the workspace buffer `into` (nothing else reads it), else fresh. */
  const sum = (grad: Tensor, other: Tensor, into: Float32Array | undefined) =>
    into !== undefined && other.data === into ? addInPlace(other, grad, kernels) : add(grad, other);

  // MLP.
  const dResidPost = visit("hook_resid_post", dResidPostIn);
  const dMlpOut = visit("hook_mlp_out", dResidPost);
  const dPostBuffer = take("mlp", rows * dMlp, "mlp.hook_post");
  const dPost = visit("mlp.hook_post", linearInputBackward(model, dMlpOut, transposedBlockWeight(model, layer, "mlpOut"), dPostBuffer));
  const pre = inputs.saved(hook("mlp.hook_pre")) ?? recomputeMlpPre(pass, layer);
  const dPreInto = dPost.data === dPostBuffer && pass.unheld([hook("mlp.hook_pre")]) ? dPostBuffer : undefined;
  const dPre = visit("mlp.hook_pre", geluNewBackward(dPost, pre, kernels, dPreInto));
  const dLn2OutBuffer = take("in", rows * d);
  const dLn2Out = linearInputBackward(model, dPre, transposedBlockWeight(model, layer, "mlpIn"), dLn2OutBuffer);
  const midBuffer = take("mid", rows * d, "hook_resid_mid", "hook_attn_out");
  const dLn2In = layerNormBackward(pass, { kind: "ln2", layer }, dLn2Out, midBuffer, dLn2OutBuffer !== undefined);
  const dResidMid = visit("hook_resid_mid", sum(dResidPost, dLn2In, midBuffer));

  // Attention.
  const dAttnOut = visit("hook_attn_out", dResidMid);
  let dz: Tensor;
  if (visitor.mayModify(hook("attn.hook_result"))) {
    dz = headResultsBackward(pass, layer, visit("attn.hook_result", sumHeadsBackward(dAttnOut, nHeads)));
  } else {
    if (visitor.wants(hook("attn.hook_result"))) visit("attn.hook_result", sumHeadsBackward(dAttnOut, nHeads));
    const into = take("in", rows * d, "attn.hook_z");
    dz = linearInputBackward(model, dAttnOut, transposedBlockWeight(model, layer, "out"), into).reshape([batch, pos, nHeads, dHead]);
  }
  dz = visit("attn.hook_z", dz);
  const pattern = saved("attn.hook_pattern");
  // Masked entries' pattern gradient only matters to whoever sees hook_pattern's gradient: the
  // softmax multiplies it by a pattern of 0.
  const maskedToo = visitor.wants(hook("attn.hook_pattern"));
  const dPatternBuffer = take("pattern", pattern.size, "attn.hook_pattern");
  const { dPattern, dV } = mixValuesBackward(dz, pattern, saved("attn.hook_v"), maskedToo, kernels, {
    dPattern: dPatternBuffer, dV: take("v", rows * d, "attn.hook_v"),
  }, inputs.past?.values[layer]);
  const dPatternSeen = visit("attn.hook_pattern", dPattern);
  const dScoresInto = dPatternSeen.data === dPatternBuffer && pass.unheld([hook("attn.hook_attn_scores")]) ? dPatternBuffer : undefined;
  let dScores = visit("attn.hook_attn_scores", softmaxBackward(dPatternSeen, pattern, kernels, dScoresInto));
  if (visitor.mayModify(hook("attn.hook_attn_scores"))) dScores = maskScoreGradients(dScores.clone(), inputs.mask);
  const { dQ, dK } = attentionScoresBackward(dScores, saved("attn.hook_q"), saved("attn.hook_k"), kernels, {
    dQ: take("q", rows * d, "attn.hook_q"), dK: take("k", rows * d, "attn.hook_k"),
  }, inputs.past?.keys[layer]);
  const dVSeen = visit("attn.hook_v", dV);
  const dKSeen = visit("attn.hook_k", dK);
  const dQSeen = visit("attn.hook_q", dQ);
  const dQkv = splitQkvBackward(dQSeen, dKSeen, dVSeen, take("mlp", rows * 3 * d));
  const dLn1OutBuffer = take("in", rows * d);
  const dLn1Out = linearInputBackward(model, dQkv, transposedBlockWeight(model, layer, "qkv"), dLn1OutBuffer).reshape([batch, pos, d]);
  const preNames: HookName[] = layer > 0
    ? [hook("hook_resid_pre"), blockHook(layer - 1, "hook_resid_post"), blockHook(layer - 1, "hook_mlp_out")]
    : [hook("hook_resid_pre"), "hook_pos_embed", "hook_embed"];
  const preBuffer = pass.take("pre", rows * d, preNames);
  const dLn1In = layerNormBackward(pass, { kind: "ln1", layer }, dLn1Out, preBuffer, dLn1OutBuffer !== undefined);
  return visit("hook_resid_pre", sum(dResidMid, dLn1In, preBuffer));
}

/** mlp.hook_pre from the forward's ln2.hook_normalized: the same components as the forward. */
function recomputeMlpPre(pass: Pass, layer: number): Tensor {
  const normalized = pass.saved(blockHook(layer, "ln2.hook_normalized"));
  return mlpPre(pass.model, layer, layerNormAffineOf(pass.model, { kind: "ln2", layer }, normalized));
}

/** ∂/∂z from ∂/∂`attn.hook_result`: dz_h = dResult_h·W_O[h]ᵀ per head. */
function headResultsBackward(pass: Pass, layer: number, dResult: Tensor): Tensor {
  const { model } = pass;
  const [batch, pos, nHeads, dModel] = dResult.shape as [number, number, number, number];
  const dHead = model.config.dHead;
  const rows = batch * pos;
  const dz = new Float32Array(rows * nHeads * dHead);
  const headGrad = new Float32Array(rows * dModel);
  for (let h = 0; h < nHeads; h++) {
    for (let r = 0; r < rows; r++) headGrad.set(dResult.data.subarray((r * nHeads + h) * dModel, (r * nHeads + h + 1) * dModel), r * dModel);
    const dzHead = linearInputBackward(model, new Tensor(headGrad, [rows, dModel]), transposedHeadOut(model, layer, h));
    for (let r = 0; r < rows; r++) dz.set(dzHead.data.subarray(r * dHead, (r + 1) * dHead), (r * nHeads + h) * dHead);
  }
  return new Tensor(dz, [batch, pos, nHeads, dHead]);
}
