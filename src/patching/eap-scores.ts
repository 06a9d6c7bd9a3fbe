import type { LogitMetric } from "../gpt2/backward/logit-metrics.ts";
import { gatherFlatRows } from "../gpt2/backward/unembed-backward.ts";
import { headOut } from "../gpt2/components/attention-head.ts";
import { blockHook, type HookName } from "../gpt2/hook-names.ts";
import type { TokenBatch } from "../gpt2/tokens.ts";
import type { ActivationCache } from "../hooks/activation-cache.ts";
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import { linear } from "../backend/linear.ts";
import { Tensor } from "../tensor/tensor.ts";
import { edgeGraph, type EdgeGraph, isEdge, upstreamCount } from "./eap-graph.ts";
import { firstDifference, metricAfterPrefix, type Prompts, promptRange, promptsOf, sharedPrefixLength, splitAtPrefix } from "./eap-prefix.ts";
import { gatherHeadRows, receiverGradientNames, receiverInputGradients } from "./eap-receiver-gradients.ts";
import { PatchingError } from "./patching-error.ts";
import { minus } from "./recompute.ts";

export type EdgeAttributionMethod = "eap" | "eap-ig";

export interface EdgeAttributionOptions {
  /** Prompts as ids, or a padded batch from model.toTokens (its mask is used). */
  readonly clean: TokenBatch;
  readonly corrupted: TokenBatch;
  /**
   * The metric the scores attribute, differentiable (logit-metrics). Either one metric of all the
   * prompts, or, to run the prompts in batches, a function giving the metric of prompts
   * [start, end): it must then be a mean over prompts, so the batches' scores add up weighted by size.
   */
  readonly metric: LogitMetric | ((start: number, end: number) => LogitMetric);
  /** "eap" (gradients at the clean run, default) or "eap-ig" (integrated gradients over `steps` inputs). */
  readonly method?: EdgeAttributionMethod;
  /** EAP-IG's number of interpolation steps m (default 5). */
  readonly steps?: number;
  /**
   * Positions whose edges the scores sum over. Default: every position from the first at which a
   * clean and a corrupted prompt differ (before it both runs are identical, so those terms are 0).
   */
  readonly positions?: readonly number[];
  /** Prompts per gradient run when `metric` is a function (default: as many as fit ≈ 256 MB of gradients). */
  readonly batchSize?: number;
  /**
   * Run the leading positions at which no clean and corrupted prompt of a batch differ (ids and
   * padding) once, and the clean, corrupted and interpolated runs only after them, continuing the
   * prefix's keys and values (default true). Exact: with causal attention those positions'
   * activations are the same in every run, so their terms are 0 and later gradients do not depend
   * on them being recomputed. Positions the metric reads are never in the prefix.
   */
  readonly sharePrefix?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface EdgeScores {
  readonly graph: EdgeGraph;
  /** [senders, receivers], row-major: score of sender → receiver; NaN where there is no edge. */
  readonly scores: Float64Array;
  readonly method: EdgeAttributionMethod;
  /** 1 for EAP. */
  readonly steps: number;
  readonly positions: readonly number[];
}

/**
 * EAP and EAP-IG edge scores. score(u → v, channel) = Σ over prompts and positions of
 * (u's corrupted − clean output) · ∂metric/∂(v's input through that channel).
 * - EAP: the gradient at the clean run.
 * - EAP-IG (Hanna, Pezzelle & Belinkov 2024): the mean of the gradients at m runs whose input
 *   embeddings (`blocks.0.hook_resid_pre`, token + position) are interpolated,
 *   corrupted + (k/m)(clean − corrupted) for k = 1…m, every later activation computed from that
 *   input (the paper's interpolation of inputs, not of each activation); k = m is the clean run, so
 *   m = 1 is EAP. The activation difference is always the real runs' corrupted − clean.
 */
export function edgeAttribution(model: HookedGpt2, options: EdgeAttributionOptions): EdgeScores {
  const { clean, corrupted } = options;
  const method = options.method ?? "eap";
  if (method !== "eap" && method !== "eap-ig") throw new PatchingError("bad_option", `edge attribution method must be "eap" or "eap-ig", got "${String(method)}"`);
  const steps = method === "eap" ? 1 : (options.steps ?? 5);
  if (!Number.isInteger(steps) || steps < 1) throw new PatchingError("bad_option", `EAP-IG steps must be a positive integer, got ${steps}`);
  if (clean.batch !== corrupted.batch || clean.pos !== corrupted.pos) {
    throw new PatchingError("shape_mismatch", `clean and corrupted prompts differ in shape: [${clean.batch}, ${clean.pos}] vs [${corrupted.batch}, ${corrupted.pos}]`);
  }
  const cleanPrompts = promptsOf(clean);
  const corruptedPrompts = promptsOf(corrupted);
  const first = firstDifference(cleanPrompts, corruptedPrompts);
  const positions = options.positions ?? Array.from({ length: clean.pos - first }, (_, i) => first + i);
  for (const p of positions) {
    if (!Number.isInteger(p) || p < 0 || p >= clean.pos) throw new PatchingError("bad_position", `edge attribution position ${p} is outside [0, ${clean.pos})`);
  }
  const sharePrefix = options.sharePrefix ?? true;
  if (typeof sharePrefix !== "boolean") throw new PatchingError("bad_option", `sharePrefix must be true or false, got ${String(sharePrefix)}`);
  const graph = edgeGraph(model.config);
  const { senders, receivers } = graph;
  const scores = new Float64Array(senders.length * receivers.length);
  const metric = options.metric;
  const batchSize = typeof metric === "function" ? (options.batchSize ?? defaultBatchSize(graph, positions.length)) : clean.batch;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new PatchingError("bad_option", `batchSize must be a positive integer, got ${batchSize}`);
  const chunks = Math.ceil(clean.batch / batchSize);
  const maxWidth = Math.min(batchSize, clean.batch) * positions.length * model.config.dModel;
  // Reused by every batch of prompts (the last one uses a prefix of each).
  const work: Workspace = { gradients: new Float32Array(receivers.length * maxWidth), deltas: new Float32Array(senders.length * maxWidth) };
  for (let c = 0; c < chunks; c++) {
    const start = c * batchSize;
    const end = Math.min(clean.batch, start + batchSize);
    const chunkMetric = typeof metric === "function" ? metric(start, end) : metric;
    const weight = typeof metric === "function" ? (end - start) / clean.batch : 1;
    scoreChunk(model, graph, {
      clean: promptRange(cleanPrompts, start, end), corrupted: promptRange(corruptedPrompts, start, end),
      metric: chunkMetric, steps, positions, weight, sharePrefix,
    }, work, scores);
    options.onProgress?.(c + 1, chunks);
  }
  for (let s = 0; s < senders.length; s++) {
    for (let r = 0; r < receivers.length; r++) if (!isEdge(senders[s]!, receivers[r]!)) scores[s * receivers.length + r] = Number.NaN;
  }
  return { graph, scores, method, steps, positions: [...positions] };
}

function defaultBatchSize(graph: EdgeGraph, positions: number): number {
  const perPrompt = (graph.senders.length + graph.receivers.length) * Math.max(1, positions) * graph.config.dModel;
  return Math.max(1, Math.floor(64e6 / perPrompt));
}

interface Chunk {
  readonly clean: Prompts;
  readonly corrupted: Prompts;
  readonly metric: LogitMetric;
  readonly steps: number;
  readonly positions: readonly number[];
  /** This chunk's share of the whole batch's mean metric. */
  readonly weight: number;
  readonly sharePrefix: boolean;
}

/** A batch's receivers' gradients [receivers, rows·d_model] and senders' deltas [senders, rows·d_model]. */
interface Workspace {
  readonly gradients: Float32Array;
  readonly deltas: Float32Array;
}

/** The hook points of the senders' outputs: the embedding, every head's z, every MLP's output. */
function senderOutputNames(nLayers: number): HookName[] {
  const names: HookName[] = [blockHook(0, "hook_resid_pre")];
  for (let layer = 0; layer < nLayers; layer++) names.push(blockHook(layer, "attn.hook_z"), blockHook(layer, "hook_mlp_out"));
  return names;
}

function scoreChunk(model: HookedGpt2, graph: EdgeGraph, chunk: Chunk, work: Workspace, scores: Float64Array): void {
  const { nLayers, dModel: d } = model.config;
  const { steps } = chunk;
  const prefix = chunk.sharePrefix ? sharedPrefixLength(chunk.clean, chunk.corrupted, chunk.metric) : 0;
  // Terms at prefix positions are 0 (corrupted − clean is 0 there).
  const positions = chunk.positions.filter((p) => p >= prefix).map((p) => p - prefix);
  if (positions.length === 0) return;
  const { clean, corrupted } = splitAtPrefix(model, chunk.clean, chunk.corrupted, prefix);
  const metric = metricAfterPrefix(chunk.metric, prefix);
  const { batch, pos } = clean.tokens;
  const rows = Int32Array.from({ length: batch * positions.length }, (_, i) => Math.floor(i / positions.length) * pos + positions[i % positions.length]!);
  const outputs = senderOutputNames(nLayers);
  const corruptedRun = model.runUntil(corrupted.tokens, blockHook(nLayers - 1, "hook_mlp_out"), { cache: outputs, ...corrupted.options });
  const corruptedEmbed = corruptedRun.get(blockHook(0, "hook_resid_pre"));
  const { grads: gradNames, cache: lnNames } = receiverGradientNames(nLayers);
  const width = rows.length * d;
  // With one step the gradients are copied as computed; with several, their mean is accumulated.
  const gradients = work.gradients.subarray(0, graph.receivers.length * width);
  if (steps > 1) gradients.fill(0);
  let cleanRun: ActivationCache | null = null;
  for (let k = steps; k >= 1; k--) {
    const alpha = k / steps;
    const interpolate = (act: Tensor): Tensor => {
      const out = new Float32Array(act.size);
      for (let i = 0; i < out.length; i++) out[i] = corruptedEmbed.data[i]! + alpha * (act.data[i]! - corruptedEmbed.data[i]!);
      return new Tensor(out, act.shape);
    };
    const run = model.runWithGradients(clean.tokens, {
      ...clean.options,
      metric,
      grads: gradNames,
      cache: k === steps ? [...lnNames, ...outputs] : lnNames,
      ...(k < steps ? { hooks: [[blockHook(0, "hook_resid_pre"), interpolate] as const] } : {}),
    });
    if (k === steps) cleanRun = run.cache;
    const gradientOf = receiverInputGradients(model.model, run.grads, run.cache, rows);
    graph.receivers.forEach((receiver, r) => {
      const g = gradientOf(receiver).data;
      const sum = gradients.subarray(r * width, (r + 1) * width);
      if (steps === 1) sum.set(g);
      else for (let i = 0; i < width; i++) sum[i] += g[i]! / steps;
    });
  }
  const deltas = senderDeltas(model, graph, cleanRun!, corruptedRun, rows, work.deltas);
  contract(model, graph, deltas, gradients, width, chunk.weight, scores);
}

/** Each sender's corrupted − clean output at `rows`, senders in graph order: [senders, rows·d_model], written into `into`. */
function senderDeltas(
  model: HookedGpt2, graph: EdgeGraph, clean: ActivationCache, corrupted: ActivationCache, rows: Int32Array, into: Float32Array,
): Float32Array {
  const d = model.config.dModel;
  const width = rows.length * d;
  const out = into.subarray(0, graph.senders.length * width);
  graph.senders.forEach((sender, s) => {
    let delta: Tensor;
    if (sender.kind === "embed") {
      const name = blockHook(0, "hook_resid_pre");
      delta = minus(gatherFlatRows(corrupted.get(name), rows), gatherFlatRows(clean.get(name), rows));
    } else if (sender.kind === "mlp") {
      const name = blockHook(sender.layer, "hook_mlp_out");
      delta = minus(gatherFlatRows(corrupted.get(name), rows), gatherFlatRows(clean.get(name), rows));
    } else {
      const name = blockHook(sender.layer, "attn.hook_z");
      const dz = minus(gatherHeadRows(corrupted.get(name), rows, sender.head), gatherHeadRows(clean.get(name), rows, sender.head));
      delta = headOut(model.model, sender.layer, sender.head, dz);
    }
    out.set(delta.data, s * width);
  });
  return out;
}

/**
 * scores[u, v] += weight · Σ_rows Δ_u · G_v: one product of every receiver's gradient
 * [receivers, rows·d] with every sender's delta (packed once as the weight), on the model's GEMM.
 * Packing the deltas once costs less than packing each layer's gradients to keep only the upstream
 * senders' products; the other products are dropped.
 */
function contract(
  model: HookedGpt2, graph: EdgeGraph, deltas: Float32Array, gradients: Float32Array, width: number, weight: number, scores: Float64Array,
): void {
  const backend = model.model.backend;
  const S = graph.senders.length;
  const R = graph.receivers.length;
  const w = backend.prepareTransposed(deltas, S, width);
  try {
    const product = linear(backend, new Tensor(gradients, [R, width]), w).data;
    for (let r = 0; r < R; r++) {
      const upstream = upstreamCount(graph, r);
      for (let s = 0; s < upstream; s++) scores[s * R + r] += weight * product[r * S + s]!;
    }
  } finally {
    backend.release?.(w);
  }
}
