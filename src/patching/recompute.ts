import { attendRow, headInput, type HeadInput, headOut } from "../gpt2/components/attention-head.ts";
import { mlp, mlpNeurons } from "../gpt2/components/mlp.ts";
import type { Gpt2Model } from "../gpt2/model.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { PathActivations } from "./path-activations.ts";

/** a + b elementwise (same shape). */
export function plus(a: Tensor, b: Tensor): Tensor {
  const out = new Float32Array(a.size);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i]! + b.data[i]!;
  return new Tensor(out, a.shape);
}

/** a − b elementwise (same shape). */
export function minus(a: Tensor, b: Tensor): Tensor {
  const out = new Float32Array(a.size);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i]! - b.data[i]!;
  return new Tensor(out, a.shape);
}

/** One head's output at `pos` in a cached run: its cached z · W_O[head] (no bias), [batch, d_model]. */
export function cachedHeadOutput(model: Gpt2Model, acts: PathActivations, layer: number, head: number, pos: number): Tensor {
  return headOut(model, layer, head, acts.headAt(layer, "attn.hook_z", head, pos));
}

export interface HeadInputDeltas {
  /** Change of the residual stream the query at `pos` reads, [batch, d_model]. */
  readonly q?: Tensor;
  /** Changes of the residual stream the keys / values read, by key position. */
  readonly k?: ReadonlyMap<number, Tensor>;
  readonly v?: ReadonlyMap<number, Tensor>;
}

const unchangedQueries = new WeakMap<Gpt2Model, WeakMap<PathActivations, Map<string, Tensor>>>();

/**
 * A recomputed head's query from the run's own residual stream, made once per model, run, head and
 * position: a sweep through keys and values recomputes the same heads for every sender with their
 * queries unchanged. Read-only (attendRow does not write its query).
 */
function unchangedQuery(model: Gpt2Model, base: PathActivations, layer: number, head: number, pos: number): Tensor {
  let byRun = unchangedQueries.get(model);
  if (byRun === undefined) unchangedQueries.set(model, (byRun = new WeakMap()));
  let queries = byRun.get(base);
  if (queries === undefined) byRun.set(base, (queries = new Map()));
  const key = `${layer}.${head}.${pos}`;
  let query = queries.get(key);
  if (query === undefined) queries.set(key, (query = headInput(model, layer, head, "q", base.residualAt(layer, "hook_resid_pre", pos))));
  return query;
}

/** A head's query at `pos`, its keys and values at 0…pos, each from the run's residual stream plus the given changes (through ln1). */
function headInputs(
  model: Gpt2Model, base: PathActivations, layer: number, head: number, pos: number, deltas: HeadInputDeltas, reuseQuery = false,
) {
  const residAt = (at: number, delta: Tensor | undefined) => {
    const resid = base.residualAt(layer, "hook_resid_pre", at);
    return delta ? plus(resid, delta) : resid;
  };
  const query = !deltas.q && reuseQuery ? unchangedQuery(model, base, layer, head, pos) : headInput(model, layer, head, "q", residAt(pos, deltas.q));
  const withChanges = (suffix: "attn.hook_k" | "attn.hook_v", input: HeadInput, changes: ReadonlyMap<number, Tensor> | undefined) => {
    const cached = base.headSpan(layer, suffix, head, 0, pos + 1);
    const dHead = model.config.dHead;
    for (const [at, delta] of changes ?? []) {
      const changed = headInput(model, layer, head, input, residAt(at, delta)).data;
      for (let b = 0; b < base.batch; b++) cached.data.set(changed.subarray(b * dHead, (b + 1) * dHead), (b * (pos + 1) + at) * dHead);
    }
    return cached;
  };
  return { query, keys: withChanges("attn.hook_k", "k", deltas.k), values: withChanges("attn.hook_v", "v", deltas.v) };
}

/**
 * Recomputes one head's output at query position `pos` with its inputs changed per channel: each
 * changed input goes through the head's own ln1 and projection; unchanged keys and values are the
 * run's cached ones. → [batch, d_model].
 */
export function recomputeHeadOutput(
  model: Gpt2Model, base: PathActivations, layer: number, head: number, pos: number, deltas: HeadInputDeltas,
): Tensor {
  const { query, keys, values } = headInputs(model, base, layer, head, pos, deltas, true);
  return headOut(model, layer, head, attendRow(query, keys, values).z);
}

/** A head's attention pattern from query position `pos` in a cached run, [batch, pos + 1]. */
export function cachedAttentionFrom(model: Gpt2Model, acts: PathActivations, layer: number, head: number, pos: number): Tensor {
  const { query, keys, values } = headInputs(model, acts, layer, head, pos, {});
  return attendRow(query, keys, values).pattern;
}

/** MLP `layer`'s neuron activations (hook_post) at `pos` in a cached run, from its cached input, [batch, d_mlp]. */
export function cachedMlpNeurons(model: Gpt2Model, acts: PathActivations, layer: number, pos: number): Tensor {
  return mlpNeurons(model, layer, acts.residualAt(layer, "hook_resid_mid", pos));
}

/** Recomputes MLP `layer` at `pos` from its cached input plus `delta` (ln2 recomputed), [batch, d_model]. */
export function recomputeMlpOutput(model: Gpt2Model, base: PathActivations, layer: number, pos: number, delta: Tensor): Tensor {
  return mlp(model, layer, plus(base.residualAt(layer, "hook_resid_mid", pos), delta));
}
