import { layerNormGradient } from "../gpt2/backward/input-gradients.ts";
import { layerNormInputBackward } from "../gpt2/backward/layer-norm-backward.ts";
import { gatherFlatRows } from "../gpt2/backward/unembed-backward.ts";
import { linearInputBackward, transposedHeadInput } from "../gpt2/backward/transposed-weights.ts";
import { blockHook, type HookName } from "../gpt2/hook-names.ts";
import type { Gpt2Model } from "../gpt2/model.ts";
import type { ActivationCache } from "../hooks/activation-cache.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { Receiver } from "./eap-graph.ts";

/**
 * ∂metric/∂(a receiver's residual-stream input through that receiver's channel only), at chosen
 * rows: for head h's q (k, v) channel, ∂/∂`attn.hook_q`[h] back through W_Q[h]ᵀ and ln1's backward
 * at the run's own LayerNorm statistics (headInputGradient's composition, at the chosen rows); for
 * an MLP, ln2's backward from the gradients at `ln2.hook_normalized` and `ln2.hook_scale`, which
 * only the MLP reads (mlpInputGradient's value without its d_mlp-wide product); for the logits, the
 * final residual stream's gradient (ln_final is its only reader).
 */

/** The gradient and forward hook points receiverInputGradients reads. */
export function receiverGradientNames(nLayers: number): { grads: HookName[]; cache: HookName[] } {
  const grads: HookName[] = [];
  const cache: HookName[] = [];
  for (let layer = 0; layer < nLayers; layer++) {
    for (const suffix of ["attn.hook_q", "attn.hook_k", "attn.hook_v", "ln2.hook_normalized", "ln2.hook_scale"] as const) {
      grads.push(blockHook(layer, suffix));
    }
    for (const suffix of ["ln1.hook_normalized", "ln1.hook_scale", "ln2.hook_normalized", "ln2.hook_scale"] as const) {
      cache.push(blockHook(layer, suffix));
    }
  }
  grads.push(blockHook(nLayers - 1, "hook_resid_post"));
  return { grads, cache };
}

/** One head's slice of a [batch, pos, head, d_head] tensor at flat rows b·pos + p → [rows.length, d_head]. */
export function gatherHeadRows(x: Tensor, rows: Int32Array, head: number): Tensor {
  const [, , nHeads, dHead] = x.shape as [number, number, number, number];
  const out = new Float32Array(rows.length * dHead);
  rows.forEach((r, i) => {
    const at = (r * nHeads + head) * dHead;
    out.set(x.data.subarray(at, at + dHead), i * dHead);
  });
  return new Tensor(out, [rows.length, dHead]);
}

/**
 * The receivers' channel-only input gradients at `rows` (flat b·pos + p), each [rows.length, d_model],
 * from one gradient run: its gradients and its forward's LayerNorm statistics (gathered once per
 * LayerNorm and shared by that layer's receivers).
 */
export function receiverInputGradients(
  model: Gpt2Model, grads: ActivationCache, forward: ActivationCache, rows: Int32Array,
): (receiver: Receiver) => Tensor {
  const gathered = new Map<HookName, Tensor>();
  const rowsOf = (cache: ActivationCache, name: HookName) => {
    let t = gathered.get(name);
    if (t === undefined) {
      t = gatherFlatRows(cache.get(name), rows);
      gathered.set(name, t);
    }
    return t;
  };
  return (receiver) => {
    if (receiver.kind === "logits") return gatherFlatRows(grads.get(blockHook(model.config.nLayers - 1, "hook_resid_post")), rows);
    const { layer } = receiver;
    const site = receiver.kind === "head" ? ({ kind: "ln1", layer } as const) : ({ kind: "ln2", layer } as const);
    const normalized = rowsOf(forward, blockHook(layer, `${site.kind}.hook_normalized`));
    const scale = rowsOf(forward, blockHook(layer, `${site.kind}.hook_scale`));
    if (receiver.kind === "mlp") {
      const dNormalized = gatherFlatRows(grads.get(blockHook(layer, "ln2.hook_normalized")), rows);
      const dScale = gatherFlatRows(grads.get(blockHook(layer, "ln2.hook_scale")), rows);
      return layerNormInputBackward(dNormalized, dScale, normalized, scale);
    }
    const dHeadInput = gatherHeadRows(grads.get(blockHook(layer, `attn.hook_${receiver.channel}`)), rows, receiver.head);
    const dLnOut = linearInputBackward(model, dHeadInput, transposedHeadInput(model, layer, receiver.head, receiver.channel));
    return layerNormGradient(model, site, dLnOut, { normalized, scale });
  };
}
