import type { Gpt2Config } from "../gpt2/config.ts";
import { Gpt2Model } from "../gpt2/model.ts";
import type { ActivationCache } from "../hooks/activation-cache.ts";
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import type { HookName } from "../gpt2/hook-names.ts";
import { unembedColumns, unembedLinear } from "../gpt2/components/unembed.ts";
import { centreRows } from "../gpt2/weight-maths.ts";
import { Tensor } from "../tensor/tensor.ts";
import { PatchingError } from "./patching-error.ts";

/** Attribution functions accept the hooked model or the bare model behind it. */
export type ModelLike = HookedGpt2 | Gpt2Model;

/** Token ids, e.g. the 100 year tokens "00".."99". */
export type TokenIds = readonly number[] | Int32Array;

/**
 * What attribution functions return: the numbers, the names of their axes, and labels of the
 * leading labelled axis (named by `labelAxis`), e.g. "L0H3", "MLP1", "L1N42", "0_pre".
 */
export interface AttributionResult {
  readonly values: Tensor;
  readonly axes: readonly string[];
  readonly labelAxis: string;
  readonly labels: readonly string[];
}

export function resolveModel(model: ModelLike): Gpt2Model {
  return model instanceof Gpt2Model ? model : model.model;
}

export function checkLayer(config: Gpt2Config, layer: number, where: string): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= config.nLayers) {
    throw new PatchingError("bad_layer", `${where}: layer ${layer} is outside the model's layers 0…${config.nLayers - 1}`);
  }
}

export function checkPosition(pos: number, length: number, where: string): void {
  if (!Number.isInteger(pos) || pos < 0 || pos >= length) {
    throw new PatchingError("bad_position", `${where}: position ${pos} is outside the prompt's positions 0…${length - 1}`);
  }
}

/** Validates token ids against the vocabulary; returns them as a plain array. */
export function checkTokens(config: Gpt2Config, tokens: TokenIds, where: string): number[] {
  const ids = Array.from(tokens);
  if (ids.length === 0) throw new PatchingError("bad_tokens", `${where}: the token list is empty`);
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= config.dVocab) {
      throw new PatchingError("bad_tokens", `${where}: tokens[${i}] = ${id} is not a token id in [0, ${config.dVocab})`);
    }
  });
  return ids;
}

/**
 * Fails with one message naming every activation `purpose` needs that the cache lacks, and how to
 * record them.
 */
export function requireCached(cache: ActivationCache, names: readonly HookName[], purpose: string): void {
  const missing = names.filter((name) => !cache.has(name));
  if (missing.length === 0) return;
  const quoted = (list: readonly string[]) => list.map((n) => `"${n}"`).join(", ");
  throw new PatchingError(
    "not_cached",
    `${purpose} needs ${quoted(missing)} in the activation cache; run the model with ` +
      `{ cache: [${quoted(names)}] } (or cache: true)`,
  );
}

/** W_U[:, token] (a copy), [d_model]. */
export function unembedDirection(model: ModelLike, token: number): Float32Array {
  const gpt2 = resolveModel(model);
  const [id] = checkTokens(gpt2.config, [token], "unembedDirection");
  return unembedColumns(gpt2, [id!]).data;
}

/** The columns W_U[:, tokens] as rows of a [tokens.length, d_model] tensor (a copy). */
export function unembedDirections(model: ModelLike, tokens: TokenIds): Tensor {
  const gpt2 = resolveModel(model);
  return unembedColumns(gpt2, checkTokens(gpt2.config, tokens, "unembedDirections"));
}

/**
 * Rows [rows, d_model] · W_U[:, tokens] (all tokens when null) → [rows, tokens]; with `lnWeight`
 * through ln_final's weight (w ⊙ W_U), the model's own unembedding component (no centring here).
 */
export function projectToTokens(model: Gpt2Model, rows: Float32Array, tokens: readonly number[] | null, lnWeight: boolean): Float32Array {
  const d = model.config.dModel;
  return unembedLinear(model, new Tensor(rows, [rows.length / d, d]), tokens, { lnWeight, centre: false }).data;
}

/** Subtracts each row's mean over its last axis (width `width`), returning a copy (TransformerLens's centring). */
export const centerRows = centreRows;

/** Rows of a [batch, pos, width] tensor at one position → [batch, width] (a copy). */
export function rowsAtPosition(x: Tensor, pos: number): Float32Array {
  const [batch, length, width] = x.shape as [number, number, number];
  const out = new Float32Array(batch * width);
  for (let b = 0; b < batch; b++) out.set(x.data.subarray((b * length + pos) * width, (b * length + pos + 1) * width), b * width);
  return out;
}

/** The cached `ln_final.hook_scale` at `pos`, [batch]; checks it fits a [batch, length] run. */
export function finalScaleAt(cache: ActivationCache, batch: number, length: number, pos: number, purpose: string): Float32Array {
  requireCached(cache, ["ln_final.hook_scale"], purpose);
  const scale = cache.get("ln_final.hook_scale");
  if (scale.shape[0] !== batch || scale.shape[1] !== length) {
    throw new PatchingError(
      "shape_mismatch",
      `${purpose}: ln_final.hook_scale has shape [${scale.shape.join(", ")}], expected [${batch}, ${length}, 1]`,
    );
  }
  const out = new Float32Array(batch);
  for (let b = 0; b < batch; b++) out[b] = scale.data[b * length + pos]!;
  return out;
}

export function runShape(cache: ActivationCache, name: HookName, purpose: string): { batch: number; length: number } {
  requireCached(cache, [name], purpose);
  const value = cache.get(name);
  return { batch: value.shape[0]!, length: value.shape[1]! };
}
