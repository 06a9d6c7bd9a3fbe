import "../dispose-symbols.ts";
import type { Gpt2Config } from "../gpt2/config.ts";
import { type ForwardOptions, runForward } from "../gpt2/forward.ts";
import { checkStart } from "../gpt2/forward-inputs.ts";
import type { Gpt2Model } from "../gpt2/model.ts";
import { normalizeTokens, type TokenBatch, type TokenInput } from "../gpt2/tokens.ts";
import { Tensor } from "../tensor/tensor.ts";
import { applyHooks, type CacheSelector, type HookSpec, resolveHookSpecs, resolveNameSelector } from "./hook-specs.ts";
import { ActivationCache } from "./activation-cache.ts";
import { HookError } from "./hook-error.ts";
import { firesFromLayer, type HookName, hookNames, parseHookName } from "../gpt2/hook-names.ts";
import { nearestNames } from "../nearest-names.ts";
import { checkRunOptions, checkStopAfter } from "./run-options-check.ts";
import { lastRealIndices, resolveRunInput, type RunInput, tokenizeInput, type TokenizeInputOptions } from "./run-input.ts";
import type { PaddedTokens } from "../gpt2/padding.ts";
import { InputError } from "../errors.ts";
import { type GradientRunOptions, type GradientRunResult, runWithGradients } from "./gradients.ts";
import { generate, type GenerateOptions, type GenerateResult } from "./generate.ts";
import { NonFiniteTracker } from "./non-finite-tracker.ts";

export type { CacheSelector, HookContext, HookFn, HookSelector, HookSpec } from "./hook-specs.ts";

export interface RunOptions extends TokenizeInputOptions {
  /** [name or name filter, fn] pairs; several hooks on one name run in the given order. */
  readonly hooks?: readonly HookSpec[];
  /** What to record: true (everything), a list of names, or a filter. Default: nothing. */
  readonly cache?: CacheSelector;
  /**
   * Unembed only these positions (integers 0…pos − 1; may repeat): logits are then
   * [batch, positions.length, d_vocab], rows in the list's order.
   */
  readonly logitPositions?: readonly number[];
  /**
   * Start at `blocks.{layer}.hook_resid_pre` with a given residual stream instead of the embedding.
   * Hooks, cache names and stopAfter named before that point are rejected (`hook_before_start`).
   */
  readonly start?: ForwardOptions["start"];
  /**
   * Keys and values of earlier positions per layer, [batch, pastPos, head, d_head] (e.g. a shared
   * prefix's `attn.hook_k` / `attn.hook_v`): the tokens continue after them, at positions pastPos…,
   * and attend to them. hook_k / hook_v then show the new positions only; attention scores and
   * patterns are [batch, head, query, pastPos + pos].
   */
  readonly past?: ForwardOptions["past"];
  /**
   * For ids padded by hand: [batch, pastPos + pos] (a Tensor or rows) of 1 (token) and 0 (pad).
   * Text and model.toTokens batches bring their own.
   */
  readonly attentionMask?: Tensor | readonly (readonly number[])[];
}

export interface RunResult {
  readonly logits: Tensor;
  readonly cache: ActivationCache;
  /** The ids the run embedded (null when it started from a residual stream). */
  readonly tokens: TokenBatch | null;
  /** [batch, pastPos + pos] of 1 (token) and 0 (pad) when the batch was padded; null otherwise. */
  readonly attentionMask: Tensor | null;
  /** Per row, the index of its last real token among the run's positions (pos − 1 without padding). */
  readonly lastTokenIndex: readonly number[];
  /** Each row's logits at its last real token, [batch, d_vocab] (not after a run with logitPositions). */
  lastTokenLogits(): Tensor;
}

/**
 * GPT-2 with TransformerLens hook points. Every run is a pure call: hooks and cache live only in
 * the call's arguments and result, so nothing leaks between runs, even when a hook throws.
 */
export class HookedGpt2 {
  readonly model: Gpt2Model;
  readonly hookNames: readonly HookName[];
  readonly #validNames: ReadonlySet<string>;

  constructor(model: Gpt2Model) {
    this.model = model;
    this.hookNames = Object.freeze(hookNames(model.config));
    this.#validNames = new Set(this.hookNames);
  }

  get config(): Gpt2Config {
    return this.model.config;
  }

  /**
   * Releases the model's prepared weights back to its backend (see Gpt2Model.dispose); runs then
   * throw `disposed`. Idempotent; `using model = await loadHookedGpt2(…)` calls it at scope exit.
   */
  dispose(): void {
    this.model.dispose();
  }

  get disposed(): boolean {
    return this.model.disposed;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  /** Validates token ids against the vocabulary and context length. */
  tokens(input: TokenInput): TokenBatch {
    return normalizeTokens(input, this.config);
  }

  /**
   * Text as TransformerLens's to_tokens gives it: BOS first (unless `prependBos: false`), a batch of
   * prompts padded to the longest (`paddingSide`), with its attention mask and each row's last real
   * token. Rows of ids are padded the same way (no BOS added). run() takes the result.
   */
  toTokens(input: string | readonly string[] | readonly number[] | readonly (readonly number[])[], options: TokenizeInputOptions = {}): PaddedTokens {
    const padded = tokenizeInput(input, options);
    this.tokens(padded);
    return padded;
  }

  /**
   * Runs text, ids or a padded batch. A padded batch's rows each give, on their real tokens, the
   * activations and logits of the row run alone; pads' activations are meaningless.
   */
  run(input: RunInput, options: RunOptions = {}): RunResult {
    checkRunOptions(options);
    const { logits, cache, tokens, attentionMask, lastTokenIndex } = this.#execute(input, options, undefined);
    const allLogits = logits!;
    return {
      logits: allLogits,
      cache,
      tokens,
      attentionMask,
      lastTokenIndex,
      lastTokenLogits: () => {
        if (options.logitPositions !== undefined) {
          throw new InputError("lastTokenLogits needs the logits of every position; the run had logitPositions", "bad_option");
        }
        return gatherLastTokens(allLogits, lastTokenIndex);
      },
    };
  }

  /**
   * Continues text or ids by sampling (TransformerLens's generate) with the key/value cache;
   * deterministic for a `seed`; `temperature: 0` is greedy; hooks run at every step. A batch of
   * prompts is padded on the left.
   */
  generate(
    prompt: string | readonly string[] | readonly number[] | readonly (readonly number[])[],
    options: GenerateOptions = {},
  ): GenerateResult {
    this.model.assertUsable("HookedGpt2.generate");
    return generate(this, prompt, options);
  }

  /**
   * One forward and one backward pass: the metric's value, the forward cache asked for, and the
   * gradient of the metric with respect to every hook point asked for with `grads` (under its hook
   * name, in its shape; e.g. `blocks.3.attn.hook_z` → [batch, pos, head, d_head]). `backwardHooks`
   * see and may edit each gradient as it flows, once each, in reverse order of the forward. Only
   * activations' gradients exist (no gradients with respect to the weights). With `past` (a
   * prefix's keys and values) the run covers the positions after the prefix, which stays constant.
   */
  runWithGradients(input: RunInput, options: GradientRunOptions): GradientRunResult {
    return runWithGradients(this, input, options);
  }

  /** Runs until `stopAfter` has fired and returns the cache (no logits are computed). */
  runUntil(tokens: RunInput, stopAfter: HookName, options: RunOptions = {}): ActivationCache {
    checkStopAfter(stopAfter);
    checkRunOptions(options);
    this.assertHookName(stopAfter, "stopAfter");
    return this.#execute(tokens, options, stopAfter).cache;
  }

  assertHookName(name: string, where = "hook"): asserts name is HookName {
    if (this.#validNames.has(name)) return;
    const layer = parseHookName(name)?.layer;
    const layerHint =
      layer !== undefined && layer >= this.config.nLayers ? ` (the model has layers 0…${this.config.nLayers - 1})` : "";
    throw new HookError(
      "unknown_hook",
      `${where}: unknown hook name "${name}"${layerHint}; did you mean ${nearestNames(name, this.hookNames)
        .map((n) => `"${n}"`)
        .join(", ")}?`,
      name,
    );
  }

  /**
   * Throws `hook_before_start` when `name`, asked for by name, cannot fire because the run starts
   * after it (at `startLayer`; null: from the embedding).
   */
  #assertFiresAfterStart(name: HookName, startLayer: number | null, where: string): void {
    if (startLayer === null || firesFromLayer(name, startLayer)) return;
    const begin = startLayer < this.config.nLayers ? `blocks.${startLayer}.hook_resid_pre` : "ln_final";
    throw new HookError(
      "hook_before_start",
      `${where}: "${name}" comes before the run's start (start.layer ${startLayer}: the pass begins at ${begin}), so it would never fire`,
      name,
    );
  }

  #execute(input: RunInput, options: RunOptions, stopAfter: HookName | undefined) {
    this.model.assertUsable(stopAfter === undefined ? "HookedGpt2.run" : "HookedGpt2.runUntil");
    const start = options.start;
    checkStart(this.config, start);
    const startLayer = start == null ? null : start.layer;
    if (stopAfter !== undefined) this.#assertFiresAfterStart(stopAfter, startLayer, "stopAfter");
    const resolved = resolveRunInput(input, options);
    const tokens = start ? null : this.tokens(resolved.tokens);
    const hooksByName = this.#resolveHooks(options.hooks ?? [], startLayer);
    const shouldCache = this.#resolveCache(options.cache ?? false, startLayer);
    const cache = new ActivationCache();
    const nonFinite = new NonFiniteTracker();
    let visitorError: unknown = undefined;
    const visitor = {
      wants: (name: string) => hooksByName.has(name as HookName) || shouldCache(name as HookName),
      mayModify: (name: string) => hooksByName.has(name as HookName),
      visit: (name: string, value: Tensor, layer: number | null): Tensor => {
        const hookName = name as HookName;
        let current = value;
        const fns = hooksByName.get(hookName);
        try {
          if (fns) current = applyHooks(hookName, layer, value, fns);
        } catch (error) {
          visitorError = error;
          throw error;
        }
        if (fns) nonFinite.afterHooks(hookName, current);
        if (shouldCache(hookName)) cache.record(hookName, current);
        return current;
      },
    };
    const attentionMask = resolved.attentionMask ?? undefined;
    const forwardOptions: ForwardOptions = { start, stopAfter, logitPositions: options.logitPositions, past: options.past, attentionMask };
    let logits;
    try {
      ({ logits } = runForward(this.model, tokens, visitor, forwardOptions));
    } catch (error) {
      // A hook's own error (or a bad replacement) is passed on as it is.
      throw error === visitorError ? error : nonFinite.explain(error);
    }
    nonFinite.checkLogits(logits);
    const [batch, pos] = start ? start.residual.shape as [number, number] : [tokens!.batch, tokens!.pos];
    const lastTokenIndex = resolved.lastTokenIndex ?? lastRealIndices(resolved.attentionMask, batch, pos);
    return { logits, cache, tokens, attentionMask: resolved.attentionMask, lastTokenIndex };
  }

  #resolveHooks(hooks: readonly HookSpec[], startLayer: number | null) {
    return resolveHookSpecs(this, hooks, "hooks", (name, where) => this.#assertFiresAfterStart(name, startLayer, where));
  }

  #resolveCache(selector: CacheSelector, startLayer: number | null): (name: HookName) => boolean {
    return resolveNameSelector(this, selector, "cache", (name, where) => this.#assertFiresAfterStart(name, startLayer, where));
  }
}

/** logits[b, lastTokenIndex[b]] for each row b → [batch, d_vocab]. */
function gatherLastTokens(logits: Tensor, lastTokenIndex: readonly number[]): Tensor {
  const [batch, pos, dVocab] = logits.shape as [number, number, number];
  const out = new Float32Array(batch * dVocab);
  lastTokenIndex.forEach((p, b) => {
    if (p < 0 || p >= pos) throw new InputError(`row ${b} has no real token among the run's positions`, "bad_mask");
    out.set(logits.data.subarray((b * pos + p) * dVocab, (b * pos + p + 1) * dVocab), b * dVocab);
  });
  return new Tensor(out, [batch, dVocab]);
}
