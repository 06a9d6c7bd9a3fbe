import type { TokenBatch, TokenInput } from "../gpt2/tokens.ts";
import type { ActivationCache } from "../hooks/activation-cache.ts";
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import { blockHook, type HookName } from "../gpt2/hook-names.ts";
import { Tensor } from "../tensor/tensor.ts";
import { PatchingError } from "./patching-error.ts";

/**
 * What path patching needs of one run, at every position: the residual stream a node reads, the
 * keys, values and z of every head, the MLP outputs and the final residual. Head outputs are
 * rebuilt from z on demand, so nothing [batch, pos, head, d_model]-sized is kept.
 */
export interface PathActivations {
  readonly batch: number;
  readonly pos: number;
  /** hook_embed + hook_pos_embed = blocks.0.hook_resid_pre, [batch, pos, d_model]. */
  readonly embed: Float32Array;
  readonly residPre: readonly Float32Array[];
  readonly residMid: readonly Float32Array[];
  /** [batch, pos, head, d_head] per layer. */
  readonly k: readonly Float32Array[];
  readonly v: readonly Float32Array[];
  readonly z: readonly Float32Array[];
  readonly mlpOut: readonly Float32Array[];
  /** blocks.{last}.hook_resid_post, [batch, pos, d_model]. */
  readonly finalResid: Float32Array;
  /** ln_final.hook_scale, [batch, pos]. */
  readonly finalScale: Float32Array;
}

export interface CollectPathActivationsOptions {
  /**
   * A cached run of prompts that may share a prefix with these (e.g. the clean run when collecting
   * the corrupted one). Positions before the first position where any prompt differs are then taken
   * from it, and only the rest is computed (attending to its keys and values): the result is the same
   * as a full run, for a fraction of the work.
   */
  readonly reuse?: { readonly run: PathActivations; readonly tokens: TokenInput };
}

export function collectPathActivations(
  model: HookedGpt2, tokens: TokenInput, options: CollectPathActivationsOptions = {},
): PathActivations {
  const batch = model.tokens(tokens);
  if (options.reuse) {
    const { run } = options.reuse;
    const reusedTokens = model.tokens(options.reuse.tokens);
    const shared = Math.min(sharedPrefixLength(batch, reusedTokens), batch.pos - 1);
    if (shared > 0 && run.batch === batch.batch && run.pos === batch.pos) {
      checkRunMatchesTokens(model, run, reusedTokens, shared);
      return collectAfterPrefix(model, batch, run, shared);
    }
  }
  return collectFull(model, batch);
}

function cachedNames(nLayers: number): HookName[] {
  const names: HookName[] = ["ln_final.hook_scale"];
  for (let layer = 0; layer < nLayers; layer++) {
    for (const suffix of ["hook_resid_pre", "hook_resid_mid", "attn.hook_k", "attn.hook_v", "attn.hook_z", "hook_mlp_out"] as const) {
      names.push(blockHook(layer, suffix));
    }
  }
  names.push(blockHook(nLayers - 1, "hook_resid_post"));
  return names;
}

function fromCache(model: HookedGpt2, cache: ActivationCache, batch: number, pos: number): PathActivations {
  const { nLayers } = model.config;
  const perLayer = (suffix: Parameters<typeof blockHook>[1]) =>
    Array.from({ length: nLayers }, (_, layer) => cache.get(blockHook(layer, suffix)).data);
  return {
    batch,
    pos,
    embed: cache.get(blockHook(0, "hook_resid_pre")).data,
    residPre: perLayer("hook_resid_pre"),
    residMid: perLayer("hook_resid_mid"),
    k: perLayer("attn.hook_k"),
    v: perLayer("attn.hook_v"),
    z: perLayer("attn.hook_z"),
    mlpOut: perLayer("hook_mlp_out"),
    finalResid: cache.get(blockHook(nLayers - 1, "hook_resid_post")).data,
    finalScale: cache.get("ln_final.hook_scale").data,
  };
}

/** The reused run's embeddings must be those of its tokens (cheap to check, and a mix-up would be silent). */
function checkRunMatchesTokens(model: HookedGpt2, run: PathActivations, tokens: TokenBatch, prefix: number): void {
  const d = model.config.dModel;
  const wPos = model.model.weights.positionEmbedding;
  for (let b = 0; b < run.batch; b++) {
    const ids = tokens.ids.subarray(b * tokens.pos, b * tokens.pos + prefix);
    const embedded = model.model.embedTokens(ids, [prefix]).data;
    for (let p = 0; p < prefix; p++) {
      for (let j = 0; j < d; j++) {
        const expected = Math.fround(embedded[p * d + j]! + wPos[p * d + j]!);
        if (run.embed[(b * run.pos + p) * d + j] !== expected) {
          throw new PatchingError(
            "reuse_mismatch",
            `the run given to reuse is not a run of its tokens: prompt ${b}, position ${p} has a different embedding`,
          );
        }
      }
    }
  }
}

function collectFull(model: HookedGpt2, batch: TokenBatch): PathActivations {
  const cache = model.runUntil(batch, "ln_final.hook_scale", { cache: cachedNames(model.config.nLayers) });
  return fromCache(model, cache, batch.batch, batch.pos);
}

/** Positions [0, n) at which every prompt of `a` equals the same prompt of `b` (0 if shapes differ). */
export function sharedPrefixLength(a: TokenBatch, b: TokenBatch): number {
  if (a.batch !== b.batch || a.pos !== b.pos) return 0;
  let shared = a.pos;
  for (let row = 0; row < a.batch && shared > 0; row++) {
    for (let p = 0; p < shared; p++) {
      if (a.ids[row * a.pos + p] !== b.ids[row * b.pos + p]) {
        shared = p;
        break;
      }
    }
  }
  return shared;
}

/** [batch, pos, ...width] → positions [from, to) as [batch, to − from, ...width]. */
function positions(data: Float32Array, batch: number, pos: number, width: number, from: number, to: number): Float32Array {
  const out = new Float32Array(batch * (to - from) * width);
  for (let b = 0; b < batch; b++) out.set(data.subarray((b * pos + from) * width, (b * pos + to) * width), b * (to - from) * width);
  return out;
}

/** Positions [0, prefix) from `head` and [prefix, pos) from `tail`, as [batch, pos, ...width]. */
function joinPositions(head: Float32Array, tail: Float32Array, batch: number, pos: number, prefix: number, width: number): Float32Array {
  const out = new Float32Array(batch * pos * width);
  const rest = pos - prefix;
  for (let b = 0; b < batch; b++) {
    out.set(head.subarray(b * pos * width, (b * pos + prefix) * width), b * pos * width);
    out.set(tail.subarray(b * rest * width, (b + 1) * rest * width), (b * pos + prefix) * width);
  }
  return out;
}

function collectAfterPrefix(model: HookedGpt2, batch: TokenBatch, run: PathActivations, prefix: number): PathActivations {
  const { nLayers, nHeads, dHead, dModel: d } = model.config;
  const { batch: rows, pos } = batch;
  const headWidth = nHeads * dHead;
  const pastShape = [rows, prefix, nHeads, dHead];
  const past = {
    keys: run.k.map((k) => new Tensor(positions(k, rows, pos, headWidth, 0, prefix), pastShape)),
    values: run.v.map((v) => new Tensor(positions(v, rows, pos, headWidth, 0, prefix), pastShape)),
  };
  const ids = new Int32Array(rows * (pos - prefix));
  for (let b = 0; b < rows; b++) ids.set(batch.ids.subarray(b * pos + prefix, (b + 1) * pos), b * (pos - prefix));
  const suffix: TokenBatch = { ids, batch: rows, pos: pos - prefix };
  const cache = model.runUntil(suffix, "ln_final.hook_scale", { cache: cachedNames(nLayers), past });
  const tail = fromCache(model, cache, rows, pos - prefix);
  const join = (head: Float32Array, rest: Float32Array, width: number) => joinPositions(head, rest, rows, pos, prefix, width);
  const joinLayers = (head: readonly Float32Array[], rest: readonly Float32Array[], width: number) =>
    head.map((h, layer) => join(h, rest[layer]!, width));
  return {
    batch: rows,
    pos,
    embed: join(run.embed, tail.embed, d),
    residPre: joinLayers(run.residPre, tail.residPre, d),
    residMid: joinLayers(run.residMid, tail.residMid, d),
    k: joinLayers(run.k, tail.k, headWidth),
    v: joinLayers(run.v, tail.v, headWidth),
    z: joinLayers(run.z, tail.z, headWidth),
    mlpOut: joinLayers(run.mlpOut, tail.mlpOut, d),
    finalResid: join(run.finalResid, tail.finalResid, d),
    finalScale: join(run.finalScale, tail.finalScale, 1),
  };
}
