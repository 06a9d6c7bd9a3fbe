import type { LogitMetric } from "../gpt2/backward/logit-metrics.ts";
import type { PastKeysValues } from "../gpt2/forward.ts";
import { blockHook, type HookName } from "../gpt2/hook-names.ts";
import { isPaddedTokens } from "../gpt2/padding.ts";
import type { TokenBatch } from "../gpt2/tokens.ts";
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import { sliceAxis } from "../tensor/indexing.ts";
import type { Tensor } from "../tensor/tensor.ts";

/*
 * With causal attention, the positions before the first one at which a clean and a corrupted prompt
 * differ (ids or padding) have the same activations in the clean run, the corrupted run and every
 * EAP-IG interpolation (which mixes input embeddings that are equal there), so their edge terms are
 * exactly 0. Those positions run once, as past keys and values; the runs that EAP needs cover the
 * positions after them.
 */

/** Prompts of one run: ids [batch, pos] and, for a padded batch, its mask [batch, pos]. */
export interface Prompts {
  readonly tokens: TokenBatch;
  readonly mask: Tensor | null;
}

/** A TokenBatch, or a padded batch from model.toTokens (its mask kept). */
export function promptsOf(tokens: TokenBatch): Prompts {
  const ids: TokenBatch = { ids: tokens.ids, batch: tokens.batch, pos: tokens.pos };
  return { tokens: ids, mask: isPaddedTokens(tokens) ? tokens.attentionMask : null };
}

/** Prompts [start, end). */
export function promptRange(prompts: Prompts, start: number, end: number): Prompts {
  const { ids, pos } = prompts.tokens;
  return {
    tokens: { ids: ids.subarray(start * pos, end * pos), batch: end - start, pos },
    mask: prompts.mask && sliceAxis(prompts.mask, 0, start, end),
  };
}

/** Positions [start, end) of every prompt (ids copied; the mask is sliced too). */
function positionRange(prompts: Prompts, start: number, end: number): Prompts {
  const { ids, batch, pos } = prompts.tokens;
  const out = new Int32Array(batch * (end - start));
  for (let b = 0; b < batch; b++) out.set(ids.subarray(b * pos + start, b * pos + end), b * (end - start));
  return { tokens: { ids: out, batch, pos: end - start }, mask: prompts.mask && sliceAxis(prompts.mask, 1, start, end) };
}

/**
 * The number of leading positions that EAP may run once as a shared past: before the first position
 * at which any clean and corrupted prompt differ in id or mask, leaving at least the last position
 * and every position the metric reads (a metric of "all" positions leaves none).
 */
export function sharedPrefixLength(clean: Prompts, corrupted: Prompts, metric: LogitMetric): number {
  const { pos } = clean.tokens;
  const first = Math.min(pos - 1, firstDifference(clean, corrupted));
  const positions = metric.positions ?? "last";
  if (positions === "all") return 0;
  const read = positions === "last" ? lastRealPositions(clean) : positions;
  // Bad positions are left for the gradient run to report, as they were given.
  if (!read.every((p) => Number.isInteger(p) && p >= 0 && p < pos)) return 0;
  return Math.min(first, ...read);
}

/** The first position at which any clean and corrupted prompt differ in id or mask (pos if none). */
export function firstDifference(clean: Prompts, corrupted: Prompts): number {
  const { ids, batch, pos } = clean.tokens;
  let first = pos;
  for (let b = 0; b < batch; b++) {
    for (let p = 0; p < first; p++) {
      const at = b * pos + p;
      if (ids[at] !== corrupted.tokens.ids[at] || (clean.mask?.data[at] ?? 1) !== (corrupted.mask?.data[at] ?? 1)) first = p;
    }
  }
  return first;
}

/** Per prompt, the position of its last real token (pos − 1 without a mask). */
function lastRealPositions({ tokens, mask }: Prompts): number[] {
  const { batch, pos } = tokens;
  return Array.from({ length: batch }, (_, b) => {
    if (mask === null) return pos - 1;
    let p = pos - 1;
    while (p > 0 && mask.data[b * pos + p] === 0) p--;
    return p;
  });
}

/** The metric of the positions after a prefix of `prefix` positions (numeric positions shifted back). */
export function metricAfterPrefix(metric: LogitMetric, prefix: number): LogitMetric {
  if (prefix === 0 || !Array.isArray(metric.positions)) return metric;
  const positions = metric.positions.map((p) => p - prefix);
  return metric.kind === "softmax"
    ? { kind: "softmax", tokens: metric.tokens, positions, evaluate: metric.evaluate.bind(metric) }
    : { kind: "logits", positions, evaluate: metric.evaluate.bind(metric) };
}

/** What each run of EAP is given: its positions' ids and the run options that put them after the prefix. */
export interface SuffixRun {
  readonly tokens: TokenBatch;
  readonly options: { readonly past?: PastKeysValues; readonly attentionMask?: Tensor };
}

/**
 * Runs the first `prefix` positions of `clean` once (up to the last layer's values) and returns, for
 * clean and corrupted, the runs of the positions after them: their ids, the prefix's keys and values
 * as `past` and the whole mask. `prefix` 0 gives the whole prompts.
 */
export function splitAtPrefix(model: HookedGpt2, clean: Prompts, corrupted: Prompts, prefix: number): { clean: SuffixRun; corrupted: SuffixRun } {
  const pos = clean.tokens.pos;
  const run = (prompts: Prompts, past: PastKeysValues | undefined): SuffixRun => ({
    tokens: past ? positionRange(prompts, prefix, pos).tokens : prompts.tokens,
    options: { ...(past ? { past } : {}), ...(prompts.mask ? { attentionMask: prompts.mask } : {}) },
  });
  if (prefix === 0) return { clean: run(clean, undefined), corrupted: run(corrupted, undefined) };
  const { nLayers } = model.config;
  const head = positionRange(clean, 0, prefix);
  const names: HookName[] = [];
  for (let layer = 0; layer < nLayers; layer++) names.push(blockHook(layer, "attn.hook_k"), blockHook(layer, "attn.hook_v"));
  const cache = model.runUntil(head.tokens, blockHook(nLayers - 1, "attn.hook_v"), { cache: names, ...(head.mask ? { attentionMask: head.mask } : {}) });
  const layers = Array.from({ length: nLayers }, (_, layer) => layer);
  const past: PastKeysValues = {
    keys: layers.map((layer) => cache.get(blockHook(layer, "attn.hook_k"))),
    values: layers.map((layer) => cache.get(blockHook(layer, "attn.hook_v"))),
  };
  return { clean: run(clean, past), corrupted: run(corrupted, past) };
}
