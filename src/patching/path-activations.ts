import { embed } from "../gpt2/components/embed.ts";
import { mlpNeurons } from "../gpt2/components/mlp.ts";
import type { Gpt2Config } from "../gpt2/config.ts";
import { blockHook, type BlockHookSuffix, type HookName, hookShape } from "../gpt2/hook-names.ts";
import type { Gpt2Model } from "../gpt2/model.ts";
import type { TokenBatch, TokenInput } from "../gpt2/tokens.ts";
import { ActivationCache } from "../hooks/activation-cache.ts";
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import { shapeToString, Tensor } from "../tensor/tensor.ts";
import { PatchingError } from "./patching-error.ts";

/** The per-layer hook points path patching reads: residual streams [b, p, d_model], keys/values/z [b, p, head, d_head], MLP outputs. */
const PER_LAYER: readonly BlockHookSuffix[] = ["hook_resid_pre", "hook_resid_mid", "attn.hook_k", "attn.hook_v", "attn.hook_z", "hook_mlp_out"];

/** Residual-stream-shaped hook suffixes ([batch, pos, d_model]) a PathActivations view reads rows of. */
export type ResidualSuffix = "hook_resid_pre" | "hook_resid_mid" | "hook_mlp_out" | "hook_resid_post";
/** Per-head hook suffixes ([batch, pos, head, d_head]) a PathActivations view reads rows of. */
export type HeadSuffix = "attn.hook_k" | "attn.hook_v" | "attn.hook_z";

/**
 * What path patching reads of one run: a typed view over its hook-named {@link ActivationCache}
 * (`pathActivationNames`: every layer's resid_pre, resid_mid, k, v, z and mlp_out, the last
 * resid_post and ln_final's scale). Shapes are checked when the view is made; rows come out as
 * tensors with explicit shapes. Head outputs are rebuilt from z on demand, so nothing
 * [batch, pos, head, d_model]-sized is kept.
 */
export class PathActivations {
  readonly cache: ActivationCache;
  readonly config: Gpt2Config;
  readonly batch: number;
  readonly pos: number;

  constructor(cache: ActivationCache, config: Gpt2Config) {
    const first = cache.get(blockHook(0, "hook_resid_pre"));
    const [batch, pos] = first.shape as [number, number];
    for (const name of pathActivationNames(config)) {
      const expected = hookShape(name, config, batch, pos);
      const actual = cache.get(name).shape;
      if (actual.length !== expected.length || actual.some((dim, i) => dim !== expected[i])) {
        throw new PatchingError("shape_mismatch", `path activations: ${name} is ${shapeToString(actual)}, expected ${shapeToString(expected)}`);
      }
    }
    this.cache = cache;
    this.config = config;
    this.batch = batch;
    this.pos = pos;
  }

  /** A residual-stream activation of `layer`, [batch, pos, d_model]. */
  residual(layer: number, suffix: ResidualSuffix): Tensor {
    return this.cache.get(blockHook(layer, suffix));
  }

  /** Rows of a residual-stream activation at one position, [batch, d_model] (a copy). */
  residualAt(layer: number, suffix: ResidualSuffix, pos: number): Tensor {
    return rowsAt(this.residual(layer, suffix), pos);
  }

  /** The embedding (token + position) at `pos` = blocks.0.hook_resid_pre there, [batch, d_model]. */
  embedAt(pos: number): Tensor {
    return this.residualAt(0, "hook_resid_pre", pos);
  }

  /** The final residual stream (the last block's hook_resid_post) at `pos`, [batch, d_model]. */
  finalResidAt(pos: number): Tensor {
    return this.residualAt(this.config.nLayers - 1, "hook_resid_post", pos);
  }

  /** `ln_final.hook_scale` at `pos`, [batch, 1]. */
  finalScaleAt(pos: number): Tensor {
    return rowsAt(this.cache.get("ln_final.hook_scale"), pos);
  }

  /** One head's k, v or z at positions [from, to), [batch, to − from, d_head]. */
  headSpan(layer: number, suffix: HeadSuffix, head: number, from: number, to: number): Tensor {
    const { nHeads, dHead } = this.config;
    const source = this.cache.get(blockHook(layer, suffix)).data;
    const count = to - from;
    const out = new Float32Array(this.batch * count * dHead);
    for (let b = 0; b < this.batch; b++) {
      for (let p = from; p < to; p++) {
        const at = ((b * this.pos + p) * nHeads + head) * dHead;
        out.set(source.subarray(at, at + dHead), (b * count + p - from) * dHead);
      }
    }
    return new Tensor(out, [this.batch, count, dHead]);
  }

  /** One head's k, v or z at `pos`, [batch, d_head]. */
  headAt(layer: number, suffix: HeadSuffix, head: number, pos: number): Tensor {
    return this.headSpan(layer, suffix, head, pos, pos + 1).reshape([this.batch, this.config.dHead]);
  }
}

/** Rows of a [batch, pos, ...width] tensor at one position → [batch, ...width] (a copy). */
export function rowsAt(x: Tensor, pos: number): Tensor {
  const [batch, length] = x.shape as [number, number];
  const width = x.size / (batch * length);
  const out = new Float32Array(batch * width);
  for (let b = 0; b < batch; b++) out.set(x.data.subarray((b * length + pos) * width, (b * length + pos + 1) * width), b * width);
  return new Tensor(out, [batch, ...x.shape.slice(2)]);
}

/** The hook points a {@link PathActivations} view needs in its cache. */
export function pathActivationNames(config: Pick<Gpt2Config, "nLayers">): HookName[] {
  const names: HookName[] = [];
  for (let layer = 0; layer < config.nLayers; layer++) for (const suffix of PER_LAYER) names.push(blockHook(layer, suffix));
  names.push(blockHook(config.nLayers - 1, "hook_resid_post"), "ln_final.hook_scale");
  return names;
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
  const names = pathActivationNames(model.config);
  return new PathActivations(model.runUntil(batch, "ln_final.hook_scale", { cache: names }), model.config);
}

/** The reused run's embeddings must be those of its tokens (cheap to check, and a mix-up would be silent). */
function checkRunMatchesTokens(model: HookedGpt2, run: PathActivations, tokens: TokenBatch, prefix: number): void {
  const d = model.config.dModel;
  const cached = run.residual(0, "hook_resid_pre").data;
  for (let b = 0; b < run.batch; b++) {
    const ids = tokens.ids.subarray(b * tokens.pos, b * tokens.pos + prefix);
    const expected = embed(model.model, ids, 1, prefix).data;
    for (let p = 0; p < prefix; p++) {
      for (let j = 0; j < d; j++) {
        if (cached[(b * run.pos + p) * d + j] !== expected[p * d + j]) {
          throw new PatchingError(
            "reuse_mismatch",
            `the run given to reuse is not a run of its tokens: prompt ${b}, position ${p} has a different embedding`,
          );
        }
      }
    }
  }
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

/** Positions [0, prefix) of x [batch, pos, ...width] → [batch, prefix, ...width]. */
function prefixOf(x: Tensor, prefix: number): Tensor {
  const [batch, pos] = x.shape as [number, number];
  const width = x.size / (batch * pos);
  const out = new Float32Array(batch * prefix * width);
  for (let b = 0; b < batch; b++) out.set(x.data.subarray(b * pos * width, (b * pos + prefix) * width), b * prefix * width);
  return new Tensor(out, [batch, prefix, ...x.shape.slice(2)]);
}

/** Positions [0, prefix) from `head` and the rest from `tail`, as head's shape. */
function joinPositions(head: Tensor, tail: Tensor, prefix: number): Tensor {
  const [batch, pos] = head.shape as [number, number];
  const width = head.size / (batch * pos);
  const rest = pos - prefix;
  const out = new Float32Array(head.size);
  for (let b = 0; b < batch; b++) {
    out.set(head.data.subarray(b * pos * width, (b * pos + prefix) * width), b * pos * width);
    out.set(tail.data.subarray(b * rest * width, (b + 1) * rest * width), (b * pos + prefix) * width);
  }
  return new Tensor(out, head.shape);
}

function collectAfterPrefix(model: HookedGpt2, batch: TokenBatch, run: PathActivations, prefix: number): PathActivations {
  const { nLayers } = model.config;
  const { batch: rows, pos } = batch;
  const past = {
    keys: Array.from({ length: nLayers }, (_, layer) => prefixOf(run.cache.get(blockHook(layer, "attn.hook_k")), prefix)),
    values: Array.from({ length: nLayers }, (_, layer) => prefixOf(run.cache.get(blockHook(layer, "attn.hook_v")), prefix)),
  };
  const ids = new Int32Array(rows * (pos - prefix));
  for (let b = 0; b < rows; b++) ids.set(batch.ids.subarray(b * pos + prefix, (b + 1) * pos), b * (pos - prefix));
  const names = pathActivationNames(model.config);
  const tail = model.runUntil({ ids, batch: rows, pos: pos - prefix }, "ln_final.hook_scale", { cache: names, past });
  const joined = new ActivationCache();
  for (const name of names) joined.record(name, joinPositions(run.cache.get(name), tail.get(name), prefix));
  return new PathActivations(joined, model.config);
}

/**
 * An activation cache of the run with MLP `layer`'s neuron activations (`mlp.hook_post`, recomputed
 * from its cached input with the model's own MLP) beside the run's cached activations: what
 * neuron attribution (neuronDirectPathPatching) reads.
 */
export function neuronCache(model: Gpt2Model, acts: PathActivations, layer: number): ActivationCache {
  const cache = new ActivationCache();
  for (const [name, value] of acts.cache) cache.record(name, value);
  const residMid = acts.residual(layer, "hook_resid_mid");
  const post = mlpNeurons(model, layer, residMid.reshape([acts.batch * acts.pos, model.config.dModel]));
  cache.record(blockHook(layer, "mlp.hook_post"), post.reshape([acts.batch, acts.pos, model.config.dMlp]));
  return cache;
}
