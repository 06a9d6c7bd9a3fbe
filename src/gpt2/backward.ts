import { InputError } from "../errors.ts";
import { add } from "../tensor/elementwise.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { KeyMask } from "./components/attention-mask.ts";
import { type LayerNormSite, layerNormAffineOf, lnFinal } from "./components/layer-norm.ts";
import { mlpActivation, mlpPre } from "./components/mlp.ts";
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
}

/**
 * Reverse mode through the whole model, from the metric of the logits back to the embeddings,
 * visiting the gradient at every hook point (each once, in reverse order of the forward). Returns
 * the metric's value. Weight gradients are not computed.
 */
export function runBackward(model: Gpt2Model, inputs: BackwardInputs, visitor: GradientVisitor): { value: number } {
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

/** The backward of a LayerNorm, visiting `hook_normalized` then `hook_scale`; returns ∂/∂ its input. */
function layerNormBackward(pass: Pass, site: LayerNormSite, dOut: Tensor): Tensor {
  const layer = site.kind === "ln_final" ? null : site.layer;
  const name = (suffix: "hook_scale" | "hook_normalized"): HookName =>
    site.kind === "ln_final" ? `ln_final.${suffix}` : blockHook(site.layer, `${site.kind}.${suffix}`);
  const normalized = pass.saved(name("hook_normalized"));
  const scale = pass.saved(name("hook_scale"));
  const dNormalized = pass.visit(name("hook_normalized"), layerNormAffineBackward(pass.model, site, dOut), layer);
  const dScale = pass.visit(name("hook_scale"), layerNormScaleBackward(dNormalized, normalized, scale), layer);
  return layerNormInputBackward(dNormalized, dScale, normalized, scale);
}

/** One block in reverse: ∂/∂resid_post → ∂/∂resid_pre. */
function blockBackward(pass: Pass, layer: number, dResidPostIn: Tensor): Tensor {
  const { model, visitor, inputs } = pass;
  const { nHeads, dHead, dModel: d } = model.config;
  const { batch, pos } = inputs;
  const hook = (suffix: BlockHookSuffix): HookName => blockHook(layer, suffix);
  const visit = (suffix: BlockHookSuffix, grad: Tensor) => pass.visit(hook(suffix), grad, layer);
  const saved = (suffix: BlockHookSuffix) => pass.saved(hook(suffix));

  // MLP.
  const dResidPost = visit("hook_resid_post", dResidPostIn);
  const dMlpOut = visit("hook_mlp_out", dResidPost);
  const dPost = visit("mlp.hook_post", linearInputBackward(model, dMlpOut, transposedBlockWeight(model, layer, "mlpOut")));
  const pre = inputs.saved(hook("mlp.hook_pre")) ?? recomputeMlpPre(pass, layer);
  const dPre = visit("mlp.hook_pre", geluNewBackward(dPost, pre, mlpActivation(model, pre)));
  const dLn2Out = linearInputBackward(model, dPre, transposedBlockWeight(model, layer, "mlpIn"));
  const dResidMid = visit("hook_resid_mid", add(dResidPost, layerNormBackward(pass, { kind: "ln2", layer }, dLn2Out)));

  // Attention.
  const dAttnOut = visit("hook_attn_out", dResidMid);
  let dz: Tensor;
  if (visitor.mayModify(hook("attn.hook_result"))) {
    dz = headResultsBackward(pass, layer, visit("attn.hook_result", sumHeadsBackward(dAttnOut, nHeads)));
  } else {
    if (visitor.wants(hook("attn.hook_result"))) visit("attn.hook_result", sumHeadsBackward(dAttnOut, nHeads));
    dz = linearInputBackward(model, dAttnOut, transposedBlockWeight(model, layer, "out")).reshape([batch, pos, nHeads, dHead]);
  }
  dz = visit("attn.hook_z", dz);
  const pattern = saved("attn.hook_pattern");
  // Masked entries' pattern gradient only matters to whoever sees hook_pattern's gradient: the
  // softmax multiplies it by a pattern of 0.
  const maskedToo = visitor.wants(hook("attn.hook_pattern"));
  const { dPattern, dV } = mixValuesBackward(dz, pattern, saved("attn.hook_v"), maskedToo, inputs.past?.values[layer]);
  let dScores = visit("attn.hook_attn_scores", softmaxBackward(visit("attn.hook_pattern", dPattern), pattern));
  if (visitor.mayModify(hook("attn.hook_attn_scores"))) dScores = maskScoreGradients(dScores.clone(), inputs.mask);
  const { dQ, dK } = attentionScoresBackward(dScores, saved("attn.hook_q"), saved("attn.hook_k"), inputs.past?.keys[layer]);
  const dVSeen = visit("attn.hook_v", dV);
  const dKSeen = visit("attn.hook_k", dK);
  const dQSeen = visit("attn.hook_q", dQ);
  const dQkv = splitQkvBackward(dQSeen, dKSeen, dVSeen);
  const dLn1Out = linearInputBackward(model, dQkv, transposedBlockWeight(model, layer, "qkv")).reshape([batch, pos, d]);
  return visit("hook_resid_pre", add(dResidMid, layerNormBackward(pass, { kind: "ln1", layer }, dLn1Out)));
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
