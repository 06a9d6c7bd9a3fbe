import { InputError } from "../errors.ts";
import { type GradientVisitor, runBackward, savedForBackward } from "../gpt2/backward.ts";
import { isLogitMetric, type LogitMetric } from "../gpt2/backward/logit-metrics.ts";
import type { PastKeysValues } from "../gpt2/forward.ts";
import { metricRows } from "../gpt2/backward/unembed-backward.ts";
import type { HookName } from "../gpt2/hook-names.ts";
import type { Gpt2Model } from "../gpt2/model.ts";
import type { TokenBatch, TokenInput } from "../gpt2/tokens.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { ActivationCache } from "./activation-cache.ts";
import { applyHooks, type CacheSelector, type HookNameSource, type HookSpec, resolveHookSpecs, resolveNameSelector } from "./hook-specs.ts";
import { lastRealIndices, resolveRunInput, type RunInput, type TokenizeInputOptions } from "./run-input.ts";

export interface GradientRunOptions extends TokenizeInputOptions {
  /** The scalar of the logits to differentiate (see logit-metrics: logitDifferenceMetric, logProbMetric, …). */
  readonly metric: LogitMetric;
  /** Which hook points' gradients to keep: true (all), a list of names, or a filter. Default: none. */
  readonly grads?: CacheSelector;
  /**
   * [name or filter, fn] pairs run on the gradient at each hook point as the backward reaches it
   * (reverse order of the forward, once per point); a returned tensor replaces the gradient, and
   * in-place edits count, for everything the backward computes from it.
   */
  readonly backwardHooks?: readonly HookSpec[];
  /**
   * Forward hooks, as run() takes them. The backward treats each hooked point as the identity: the
   * gradient flows through a patched activation as if it were the computed one (as EAP-IG's
   * interpolated inputs need).
   */
  readonly hooks?: readonly HookSpec[];
  /** Forward activations to return, as run()'s cache (`logits` is not computed; the metric's rows are). */
  readonly cache?: CacheSelector;
  /**
   * Recompute each block's mlp.hook_pre in the backward (from ln2's output, one more d_model × d_mlp
   * product per block) instead of keeping it from the forward: [batch, pos, d_mlp] less memory per
   * block. Default false.
   */
  readonly recomputeMlpPre?: boolean;
  /** For ids padded by hand: [batch, pastPos + pos] of 1 (token) and 0 (pad), as run() takes it. */
  readonly attentionMask?: Tensor | readonly (readonly number[])[];
  /**
   * Keys and values of earlier positions per layer, [batch, pastPos, head, d_head], as run() takes
   * them (e.g. a shared prefix's `attn.hook_k` / `attn.hook_v`): the tokens continue after them.
   * The past is a constant: no gradient flows into it. Hook points, their gradients and the
   * metric's positions cover the run's own positions only (a numeric metric position p is the
   * run's p-th token, at pastPos + p in the whole prompt); attention scores and patterns and their
   * gradients are [batch, head, pos, pastPos + pos]. Because attention is causal, each gradient
   * equals the same positions' slice of the whole prompt's gradient run.
   */
  readonly past?: PastKeysValues;
}

export interface GradientRunResult {
  /** The metric's value at this input. */
  readonly value: number;
  /** The forward activations asked for with `cache`. */
  readonly cache: ActivationCache;
  /** ∂metric/∂activation at each hook point asked for with `grads`, under its name and in its shape. */
  readonly grads: ActivationCache;
  readonly tokens: TokenBatch;
  /** Per row, the index of its last real token (where metric positions "last" read). */
  readonly lastTokenIndex: readonly number[];
}

/** What runWithGradients needs of a HookedGpt2 (kept narrow so this file does not import the class). */
export interface GradientModel extends HookNameSource {
  readonly model: Gpt2Model;
  tokens(input: TokenInput): TokenBatch;
  runUntil(tokens: RunInput, stopAfter: HookName, options?: object): ActivationCache;
}

const OPTION_KEYS = ["metric", "grads", "backwardHooks", "hooks", "cache", "recomputeMlpPre", "attentionMask", "past", "prependBos", "paddingSide", "padTokenId"];

const bad = (message: string) => new InputError(message, "bad_option");

function checkOptions(options: unknown): asserts options is GradientRunOptions {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw bad(`runWithGradients options must be an object { metric, grads, backwardHooks, … }, got ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      const hint = ["start", "logitPositions"].includes(key) ? " (not supported with gradients)" : "";
      throw bad(`unknown runWithGradients option "${key}"${hint}; the options are ${OPTION_KEYS.join(", ")}`);
    }
  }
  const { metric, recomputeMlpPre } = options as { metric?: unknown; recomputeMlpPre?: unknown };
  if (recomputeMlpPre !== undefined && typeof recomputeMlpPre !== "boolean") throw bad(`recomputeMlpPre must be true or false, got ${String(recomputeMlpPre)}`);
  if (!isLogitMetric(metric)) {
    throw bad(
      "runWithGradients: metric must be { kind: \"softmax\", tokens, evaluate(tokenLogits, logSumExp, rows) } or { kind: \"logits\", evaluate(logits) } " +
        "(e.g. logitDifferenceMetric, logProbMetric, probabilityMassDifferenceMetric)",
    );
  }
}

/**
 * One forward pass (keeping what the backward reads) and one backward pass from the metric. See
 * HookedGpt2.runWithGradients.
 */
export function runWithGradients(hooked: GradientModel, input: RunInput, options: GradientRunOptions): GradientRunResult {
  checkOptions(options);
  hooked.model.assertUsable("HookedGpt2.runWithGradients");
  const noLogits = (name: HookName, where: string) => {
    if (name === "logits") throw bad(`${where}: "logits" is not computed by runWithGradients (its metric reads the logits it needs)`);
  };
  const userCache = resolveNameSelector(hooked, options.cache ?? false, "cache", noLogits);
  const keepGrad = resolveNameSelector(hooked, options.grads ?? false, "grads");
  const backwardHooks = resolveHookSpecs(hooked, options.backwardHooks ?? [], "backwardHooks");
  const forwardHooks = options.hooks ?? [];
  resolveHookSpecs(hooked, forwardHooks, "hooks", noLogits);

  const resolved = resolveRunInput(input, options);
  const tokens = hooked.tokens(resolved.tokens);
  const mask = resolved.attentionMask;
  const hookedPre = (name: HookName) => forwardHooks.some(([s]) => (typeof s === "function" ? s(name) : s === name));
  const keepPre = (name: HookName) => name.endsWith("mlp.hook_pre") && (options.recomputeMlpPre !== true || hookedPre(name));
  const keep = (name: HookName) => userCache(name) || savedForBackward(name) || keepPre(name);
  const forwardCache = hooked.runUntil(resolved.tokens, "ln_final.hook_normalized", {
    hooks: forwardHooks, cache: keep,
    ...(options.attentionMask !== undefined ? { attentionMask: options.attentionMask } : {}),
    ...(options.past !== undefined ? { past: options.past } : {}),
  });
  const cache = new ActivationCache();
  for (const [name, value] of forwardCache) if (userCache(name)) cache.record(name, value);

  const lastTokenIndex = resolved.lastTokenIndex ?? lastRealIndices(mask, tokens.batch, tokens.pos);
  const grads = new ActivationCache("gradient");
  const visitor: GradientVisitor = {
    wants: (name) => keepGrad(name) || backwardHooks.has(name),
    mayModify: (name) => backwardHooks.has(name),
    visit: (name, grad, layer) => {
      const fns = backwardHooks.get(name);
      const current = fns ? applyHooks(name, layer, grad, fns) : grad;
      if (keepGrad(name)) grads.record(name, current);
      return current;
    },
  };
  const { value } = runBackward(hooked.model, {
    saved: (name) => (forwardCache.has(name) ? forwardCache.get(name) : undefined),
    batch: tokens.batch,
    pos: tokens.pos,
    ...(options.past !== undefined ? { past: options.past } : {}),
    mask: mask ? { data: mask.data, batch: mask.shape[0]!, keys: mask.shape[1]! } : null,
    metric: options.metric,
    metricRows: metricRows(options.metric.positions, tokens.batch, tokens.pos, lastTokenIndex),
  }, visitor);
  return { value, cache, grads, tokens, lastTokenIndex };
}
