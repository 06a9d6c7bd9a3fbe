import type { ActivationCache } from "../hooks/activation-cache.ts";
import { blockHook, type HookName } from "../gpt2/hook-names.ts";
import { layerNormScaleOf } from "../gpt2/components/layer-norm.ts";
import { neuronOutputDirections } from "../gpt2/components/mlp.ts";
import { Tensor } from "../tensor/tensor.ts";
import {
  type AttributionResult,
  centerRows,
  checkLayer,
  checkPosition,
  checkTokens,
  finalScaleAt,
  type ModelLike,
  projectToTokens,
  requireCached,
  resolveModel,
  rowsAtPosition,
  type TokenIds,
} from "./attribution-common.ts";
import type { LnMode } from "./logit-lens.ts";
import { PatchingError } from "./patching-error.ts";

export interface NeuronPatchingOptions {
  /** The run whose logits are changed: needs `blocks.L.mlp.hook_post`, the last `hook_resid_post`, and for "frozen" `ln_final.hook_scale`. */
  readonly clean: ActivationCache;
  /** The run the patched activations come from: needs `blocks.L.mlp.hook_post`. */
  readonly corrupted: ActivationCache;
  readonly layer: number;
  /** The position whose neuron activations are patched and whose logits are read. */
  readonly pos: number;
  /** Neurons to patch (default all d_mlp). */
  readonly neurons?: readonly number[];
  /** Tokens whose logits are recomputed (default the whole vocabulary, which is costly). */
  readonly tokens?: TokenIds;
  /**
   * ln_final on the patched final residual: "recompute" (default) renormalises it with its own
   * scale, exactly as the model would; "frozen" keeps the clean run's `ln_final.hook_scale`, which
   * makes the effect linear in the patched activations.
   */
  readonly ln?: LnMode;
  /** Patch all `neurons` at once: the leading axis then has size 1. Default false (one at a time). */
  readonly together?: boolean;
}

export interface NeuronPatchingResult extends AttributionResult {
  /** Logit changes patched − clean, [neurons (or 1 when `together`), batch, tokens]. */
  readonly values: Tensor;
  readonly layer: number;
  readonly pos: number;
  readonly neurons: readonly number[];
  /** The token ids of the last axis, or null for the whole vocabulary. */
  readonly tokens: readonly number[] | null;
  readonly ln: LnMode;
  readonly together: boolean;
}

/**
 * Neuron-level direct-path patching. For each neuron n, hook_post[b, pos, n] takes its corrupted value
 * and the change reaches the logits only through the direct path: the final residual stream at `pos`
 * changes by (post_corr − post_clean)[b, n] · W_out[n, :]; no later component sees it. The logits of
 * `tokens` at `pos` are recomputed through ln_final (see `ln`); the result is their change.
 */
export function neuronDirectPathPatching(model: ModelLike, options: NeuronPatchingOptions): NeuronPatchingResult {
  const gpt2 = resolveModel(model);
  const { dModel: d, dMlp, nLayers, layerNormEps: eps } = gpt2.config;
  // Directions carry ln_final's weight; its bias adds the same b·W_U[:, t] before and after and cancels.
  const toTokens = (rows: Float32Array) => projectToTokens(gpt2, rows, tokens, true);
  const purpose = "neuronDirectPathPatching";
  const { clean, corrupted, layer, pos } = options;
  const ln = options.ln ?? "recompute";
  if (ln !== "recompute" && ln !== "frozen") {
    throw new PatchingError("bad_options", `${purpose}: ln must be "recompute" or "frozen", got ${JSON.stringify(ln)}`);
  }
  const together = options.together ?? false;
  checkLayer(gpt2.config, layer, purpose);
  const postName: HookName = blockHook(layer, "mlp.hook_post");
  const finalName: HookName = blockHook(nLayers - 1, "hook_resid_post");
  requireCached(clean, ln === "frozen" ? [postName, finalName, "ln_final.hook_scale"] : [postName, finalName], `${purpose} (clean run)`);
  requireCached(corrupted, [postName], `${purpose} (corrupted run)`);
  const postClean = clean.get(postName);
  const postCorrupt = corrupted.get(postName);
  const finalResid = clean.get(finalName);
  const [batch, length] = postClean.shape as [number, number];
  for (const [what, t] of [["corrupted mlp.hook_post", postCorrupt], ["clean final hook_resid_post", finalResid]] as const) {
    if (t.shape[0] !== batch || t.shape[1] !== length) {
      throw new PatchingError(
        "shape_mismatch",
        `${purpose}: ${what} is [${t.shape.join(", ")}] but the clean mlp.hook_post is [${postClean.shape.join(", ")}]`,
      );
    }
  }
  checkPosition(pos, length, purpose);
  const neurons = checkNeurons(options.neurons, dMlp, purpose);
  const tokens = options.tokens === undefined ? null : checkTokens(gpt2.config, options.tokens, purpose);
  const T = tokens ? tokens.length : gpt2.config.dVocab;
  const N = neurons.length;

  // Δpost[b, i] for neuron neurons[i] at pos.
  const cleanAt = rowsAtPosition(postClean, pos);
  const corruptAt = rowsAtPosition(postCorrupt, pos);
  const delta = new Float64Array(batch * N);
  for (let b = 0; b < batch; b++) {
    neurons.forEach((n, i) => (delta[b * N + i] = corruptAt[b * dMlp + n]! - cleanAt[b * dMlp + n]!));
  }
  const outRows = neuronOutputDirections(gpt2, layer, neurons).data;
  const residual = rowsAtPosition(finalResid, pos);
  const frozenScale = ln === "frozen" ? finalScaleAt(clean, batch, length, pos, purpose) : null;

  let values: Float32Array;
  if (together) {
    const change = new Float32Array(batch * d);
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < N; i++) {
        const a = delta[b * N + i]!;
        if (a === 0) continue;
        for (let j = 0; j < d; j++) change[b * d + j] += a * outRows[i * d + j]!;
      }
    }
    values = new Float32Array(batch * T);
    if (frozenScale) {
      const shifted = toTokens(centerRows(change, d));
      for (let b = 0; b < batch; b++) for (let t = 0; t < T; t++) values[b * T + t] = shifted[b * T + t]! / frozenScale[b]!;
    } else {
      const patched = new Float32Array(batch * d);
      for (let i = 0; i < patched.length; i++) patched[i] = residual[i]! + change[i]!;
      const before = toTokens(normalizedRows(gpt2, residual));
      const after = toTokens(normalizedRows(gpt2, patched));
      for (let i = 0; i < values.length; i++) values[i] = after[i]! - before[i]!;
    }
  } else {
    // c_v: centred W_out rows; M[i, t] = c_v · (w ⊙ W_U[:, t]).
    const centred = centerRows(outRows, d);
    const weights = toTokens(centred);
    values = new Float32Array(N * batch * T);
    if (frozenScale) {
      for (let i = 0; i < N; i++) {
        for (let b = 0; b < batch; b++) {
          const a = delta[b * N + i]! / frozenScale[b]!;
          const base = (i * batch + b) * T;
          for (let t = 0; t < T; t++) values[base + t] = a * weights[i * T + t]!;
        }
      }
    } else {
      // LN(R + a·v) in closed form: centred c_R + a·c_v, variance (|c_R|² + 2a c_R·c_v + a²|c_v|²)/d.
      const centredResidual = centerRows(residual, d);
      const base = toTokens(centredResidual); // K[b, t] = c_R · (w ⊙ W_U[:, t])
      const cross = rowDots(centredResidual, centred, d); // [batch, N]
      const residualNorm = sumsOfSquares(centredResidual, d);
      const neuronNorm = sumsOfSquares(centred, d);
      for (let b = 0; b < batch; b++) {
        const cleanScale = Math.sqrt(residualNorm[b]! / d + eps);
        for (let i = 0; i < N; i++) {
          const a = delta[b * N + i]!;
          const at = (i * batch + b) * T;
          if (a === 0) continue;
          const variance = (residualNorm[b]! + 2 * a * cross[b * N + i]! + a * a * neuronNorm[i]!) / d;
          const patchedScale = Math.sqrt(Math.max(variance, 0) + eps);
          for (let t = 0; t < T; t++) {
            const k = base[b * T + t]!;
            values[at + t] = (k + a * weights[i * T + t]!) / patchedScale - k / cleanScale;
          }
        }
      }
    }
  }
  const label = (n: number) => `L${layer}N${n}`;
  const labels = together
    ? [N <= 8 ? `L${layer}N[${neurons.join(",")}]` : `L${layer}: ${N} neurons`]
    : neurons.map(label);
  return {
    values: new Tensor(values, [together ? 1 : N, batch, T]),
    axes: ["neuron", "batch", "token"],
    labelAxis: "neuron",
    labels,
    layer,
    pos,
    neurons,
    tokens,
    ln,
    together,
  };
}

/** (x − mean)/scale per row, ln_final's normalization before its weight and bias. */
function normalizedRows(model: ReturnType<typeof resolveModel>, rows: Float32Array): Float32Array {
  const d = model.config.dModel;
  const scale = layerNormScaleOf(model, new Tensor(rows, [rows.length / d, d])).data;
  const centred = centerRows(rows, d);
  for (let r = 0; r < scale.length; r++) {
    const inv = 1 / scale[r]!;
    for (let j = 0; j < d; j++) centred[r * d + j]! *= inv;
  }
  return centred;
}

/** a [rows, d] · bᵀ ([n, d]) → [rows, n], accumulated in float64. */
function rowDots(a: Float32Array, b: Float32Array, d: number): Float32Array {
  const rows = a.length / d;
  const n = b.length / d;
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let j = 0; j < d; j++) acc += a[r * d + j]! * b[i * d + j]!;
      out[r * n + i] = acc;
    }
  }
  return out;
}

function sumsOfSquares(rows: Float32Array, d: number): Float64Array {
  const out = new Float64Array(rows.length / d);
  for (let r = 0; r < out.length; r++) {
    let acc = 0;
    for (let j = 0; j < d; j++) acc += rows[r * d + j]! * rows[r * d + j]!;
    out[r] = acc;
  }
  return out;
}

/** The neurons to patch or attribute (all d_mlp when undefined): integers in range, none twice, at least one. */
export function checkNeurons(neurons: readonly number[] | undefined, dMlp: number, where: string): number[] {
  if (neurons === undefined) return Array.from({ length: dMlp }, (_, n) => n);
  const list = [...neurons];
  if (list.length === 0) throw new PatchingError("bad_neurons", `${where}: the neuron list is empty`);
  const seen = new Set<number>();
  list.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 0 || n >= dMlp) {
      throw new PatchingError("bad_neurons", `${where}: neurons[${i}] = ${n} is outside the MLP's neurons 0…${dMlp - 1}`);
    }
    if (seen.has(n)) throw new PatchingError("bad_neurons", `${where}: neuron ${n} is listed twice`);
    seen.add(n);
  });
  return list;
}

export interface ScoredNeuron {
  readonly neuron: number;
  readonly score: number;
}

/**
 * The k entries of `scores` with the largest |score| (index = neuron), largest first; ties keep
 * index order and NaN scores come last. k is clipped to scores.length.
 */
export function topNeurons(scores: Float32Array | readonly number[], k: number): ScoredNeuron[] {
  if (!Number.isInteger(k) || k < 0) throw new PatchingError("bad_options", `topNeurons: k must be a non-negative integer, got ${k}`);
  const magnitude = (s: number) => (Number.isNaN(s) ? -1 : Math.abs(s));
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => magnitude(scores[b]!) - magnitude(scores[a]!) || a - b);
  return order.slice(0, k).map((neuron) => ({ neuron, score: scores[neuron]! }));
}

/**
 * A per-prompt scalar of the token-logit changes, e.g. a year-logit difference. `changes[t]` is the
 * change of the logit of `result.tokens[t]` (a read-only view); `prompt` is the batch index.
 */
export type PromptMetric = (changes: Float32Array, prompt: number) => number;

export interface NeuronRanking {
  /** Batch mean of the metric per patched neuron, in `result.neurons` order. */
  readonly scores: Float32Array;
  /** Neurons by |score|, largest first, with their model neuron index and label. */
  readonly ranking: readonly (ScoredNeuron & { readonly label: string })[];
}

/** Scores each patched neuron by `metric` averaged over the batch and ranks them (top `k`, default all). */
export function rankNeurons(result: NeuronPatchingResult, metric: PromptMetric, k?: number): NeuronRanking {
  if (result.together) {
    throw new PatchingError("bad_options", "rankNeurons: the result patched its neurons together; run with together: false");
  }
  const [count, batch, T] = result.values.shape as [number, number, number];
  const scores = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let sum = 0;
    for (let b = 0; b < batch; b++) {
      const base = (i * batch + b) * T;
      const value = metric(result.values.data.subarray(base, base + T), b);
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new PatchingError("bad_metric", `rankNeurons: the metric returned ${String(value)} for ${result.labels[i]}, prompt ${b}`);
      }
      sum += value;
    }
    scores[i] = sum / batch;
  }
  const ranking = topNeurons(scores, k ?? count).map(({ neuron: i, score }) => ({
    neuron: result.neurons[i]!,
    score,
    label: result.labels[i]!,
  }));
  return { scores, ranking };
}
