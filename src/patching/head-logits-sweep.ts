/**
 * Head → logits path patching with a softmax metric, through each head's 64-dimensional output
 * space instead of the full residual stream.
 *
 * With ln_final recomputed, the patched logits of prompt i for head h are
 *   logits = ((x_c + Δ_c) / σ') ⊙ γ · W_U + β · W_U,   Δ = dz · W_O[h],  σ' = rms(x_c + Δ_c)
 * (x the clean final residual at the logit position, _c centred, dz = z_corrupted − z_clean). Since
 * centring and ⊙γ are linear, Δ_c ⊙ γ · W_U = dz · G_h with G_h = (C · W_O[h]ᵀ)ᵀ ⊙ γ · W_U, a
 * [d_head, d_vocab] matrix. So each head costs a [batch, d_head]·[d_head, d_vocab] product and its G
 * (a [d_head, d_model]·W_U product) on top of P = x_c ⊙ γ · W_U (once per sweep), instead of a
 * [batch, d_model]·W_U product: ≈ 4–5× fewer FLOPs for GPT-2 small at 490
 * prompts. The result is the same quantity as the direct route (floating-point rounding aside).
 */
import type { Gpt2Model } from "../gpt2/model.ts";
import { peekWeight } from "../gpt2/weights.ts";
import { affineRowsInPlace } from "../tensor/affine-rows.ts";
import { type BackendWorkspace, linear, type PreparedWeight } from "../tensor/matmul.ts";
import { productLogSumExp } from "../tensor/product-log-sum-exp.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { PathActivations } from "./path-activations.ts";
import { checkVocabTokens } from "./path-engine.ts";
import { rowsAt } from "./recompute.ts";

export interface HeadToLogitsOptions {
  readonly model: Gpt2Model;
  readonly clean: PathActivations;
  readonly corrupted: PathActivations;
  readonly position: number;
  readonly heads: readonly { readonly layer: number; readonly head: number }[];
  readonly tokens: readonly number[];
  /** The metric of one head's patched run, from each row's log-sum-exp and the tokens' logits. */
  readonly metric: (logSumExp: Float64Array, tokenLogits: Tensor) => number;
}

/** The metric after patching each head's path to the logits, in the order of `heads`. */
export function headToLogitsMetrics(options: HeadToLogitsOptions): number[] {
  const { model, clean, position, tokens } = options;
  const { dModel: d, dVocab } = model.config;
  const { backend } = model;
  const batch = clean.batch;
  const gamma = model.weights.lnFinalWeight;
  const unembed = model.prepared.unembed;
  checkVocabTokens(model, tokens);

  const cleanFinal = centredRows(rowsAt(clean.finalResid, batch, clean.pos, d, position), d);
  // In the backend's workspace (when it has one) the matmuls write them in place and the per-head
  // rescaling (affineRowsInPlace) reads them there.
  const buffers = new WorkspaceBuffers(backend.workspace);
  try {
    const base = linear(backend, new Tensor(scaleColumns(cleanFinal, gamma, d), [batch, d]), unembed, null, buffers.take(batch * dVocab)).data;
    const betaLogits = linear(backend, new Tensor(model.weights.lnFinalBias, [1, d]), unembed, null, buffers.take(dVocab)).data;
    const headProduct = buffers.take(model.config.dHead * dVocab);
    return perHeadMetrics(options, cleanFinal, { base, betaLogits, workspace: backend.workspace, headProduct });
  } finally {
    buffers.releaseAll();
  }
}

interface BaseLogits {
  /** x_c ⊙ γ · W_U of the clean rows, [batch, d_vocab]. */
  readonly base: Float32Array;
  /** β · W_U, [d_vocab]. */
  readonly betaLogits: Float32Array;
  readonly workspace: BackendWorkspace | undefined;
  /** Room for one head's G before the backend prepares it, [d_head, d_vocab]. */
  readonly headProduct: Float32Array;
}

function perHeadMetrics(options: HeadToLogitsOptions, cleanFinal: Float32Array, logits: BaseLogits): number[] {
  const { model, clean, corrupted, position, heads, tokens, metric } = options;
  const { dModel: d, dHead, nHeads, dVocab, layerNormEps } = model.config;
  const { backend } = model;
  const batch = clean.batch;
  const gamma = model.weights.lnFinalWeight;
  const unembed = model.prepared.unembed;
  const results = new Map<string, number>();
  const layers = [...new Set(heads.map((h) => h.layer))].sort((a, b) => a - b);
  for (const layer of layers) {
    // Rows of W_O for this layer (d_head rows per head), each centred over d_model and scaled by γ.
    // peekWeight: a packing backend's W_O is re-read from the file without being kept.
    const outWeight = peekWeight(model.weights.blocks[layer]!, "outWeight");
    const readOut = new Tensor(scaleColumns(centredRows(outWeight, d), gamma, d), [nHeads * dHead, d]);
    for (const { head } of heads.filter((h) => h.layer === layer)) {
      const headRows = new Tensor(readOut.data.subarray(head * dHead * d, (head + 1) * dHead * d), [dHead, d]);
      const gHead = backend.prepare(linear(backend, headRows, unembed, null, logits.headProduct).data, dHead, dVocab);
      try {
        const at = position * nHeads + head;
        const zClean = rowsAt(clean.z[layer]!, batch, clean.pos * nHeads, dHead, at);
        const zCorrupted = rowsAt(corrupted.z[layer]!, batch, corrupted.pos * nHeads, dHead, at);
        const dz = zCorrupted.map((v, i) => v - zClean[i]!);
        const delta = centredRows(linear(backend, new Tensor(dz, [batch, dHead]), model.prepared.blocks[layer]!.outPerHead[head]!).data, d);
        const inverseScale = new Float64Array(batch);
        for (let b = 0; b < batch; b++) {
          let sumSquares = 0;
          for (let j = 0; j < d; j++) {
            const x = cleanFinal[b * d + j]! + delta[b * d + j]!;
            sumSquares += x * x;
          }
          inverseScale[b] = 1 / Math.sqrt(sumSquares / d + layerNormEps);
        }
        const { logSumExp, tokenLogits } = patchedLogitStats(model, dz, gHead, logits, inverseScale, tokens);
        results.set(`${layer}.${head}`, metric(logSumExp, tokenLogits));
      } finally {
        backend.release?.(gHead);
      }
    }
  }
  return heads.map((h) => results.get(`${h.layer}.${h.head}`)!);
}

/** Log-sum-exp and token logits of (base + dz·G)·inverseScale + betaLogits, row block by row block. */
function patchedLogitStats(
  model: Gpt2Model, dz: Float32Array, gHead: PreparedWeight, logits: BaseLogits, inverseScale: Float64Array, tokens: readonly number[],
): { logSumExp: Float64Array; tokenLogits: Tensor } {
  const { dVocab } = model.config;
  const batch = inverseScale.length;
  const { base, betaLogits, workspace } = logits;
  const adjust = (block: Float32Array, r0: number, rows: number): void =>
    affineRowsInPlace(block, base.subarray(r0 * dVocab, (r0 + rows) * dVocab), inverseScale.subarray(r0, r0 + rows), betaLogits, workspace);
  const { logSumExp, picked } = productLogSumExp(model.backend, dz, batch, gHead, tokens, { adjust });
  return { logSumExp, tokenLogits: new Tensor(picked, [batch, tokens.length]) };
}

/** Each row of [rows, width] minus its mean. */
function centredRows(values: Float32Array, width: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < values.length / width; r++) {
    let mean = 0;
    for (let j = 0; j < width; j++) mean += values[r * width + j]!;
    mean /= width;
    for (let j = 0; j < width; j++) out[r * width + j] = values[r * width + j]! - mean;
  }
  return out;
}

/** [rows, width] ⊙ scale (per column). */
function scaleColumns(values: Float32Array, scale: Float32Array, width: number): Float32Array {
  return values.map((v, i) => v * scale[i % width]!);
}

/** Buffers from the backend's workspace while it can give them (else plain arrays), released together. */
class WorkspaceBuffers {
  private readonly held: Float32Array[] = [];
  constructor(private readonly workspace: BackendWorkspace | undefined) {}

  take(floats: number): Float32Array {
    if (this.workspace === undefined) return new Float32Array(floats);
    try {
      const view = this.workspace.alloc(floats);
      this.held.push(view);
      return view;
    } catch {
      return new Float32Array(floats);
    }
  }

  releaseAll(): void {
    for (const view of this.held.splice(0)) this.workspace!.release(view);
  }
}
