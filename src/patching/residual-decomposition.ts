import type { Gpt2Config } from "../gpt2/config.ts";
import type { ActivationCache } from "../hooks/activation-cache.ts";
import { blockHook, type HookName } from "../gpt2/hook-names.ts";
import { shapeToString, Tensor } from "../tensor/tensor.ts";
import { type AttributionResult, checkPosition, requireCached, rowsAtPosition } from "./attribution-common.ts";
import { PatchingError } from "./patching-error.ts";

/** A config, or anything carrying one (HookedGpt2, Gpt2Model). */
export type ConfigLike = Pick<Gpt2Config, "nLayers"> | { readonly config: Pick<Gpt2Config, "nLayers"> };

export interface ResidualOptions {
  /** Take only this position: values become [components, batch, d_model]. Default all positions. */
  readonly pos?: number;
  /**
   * Components up to the input of block `layer` (TransformerLens' `layer`); `nLayers` (the default)
   * also takes the final residual stream / the last block's outputs.
   */
  readonly layer?: number;
}

export interface AccumulatedResidualOptions extends ResidualOptions {
  /** Also return each block's `hook_resid_mid` ("L_mid"). Default false. */
  readonly inclMid?: boolean;
  /** TransformerLens' spelling of `inclMid`. */
  readonly incl_mid?: boolean;
}

function nLayersOf(config: ConfigLike): number {
  return "config" in config ? config.config.nLayers : config.nLayers;
}

function resolveLayer(options: ResidualOptions, nLayers: number, where: string): number {
  const layer = options.layer ?? nLayers;
  if (!Number.isInteger(layer) || layer < 0 || layer > nLayers) {
    throw new PatchingError("bad_layer", `${where}: layer ${layer} is outside 0…${nLayers}`);
  }
  return layer;
}

function stackComponents(cache: ActivationCache, names: readonly HookName[], pos: number | undefined, where: string): Tensor {
  const parts = names.map((name) => cache.get(name));
  const shape = parts[0]!.shape;
  parts.forEach((part, i) => {
    if (part.rank !== 3 || part.shape.some((dim, j) => dim !== shape[j])) {
      throw new PatchingError(
        "shape_mismatch",
        `${where}: "${names[i]}" has shape ${shapeToString(part.shape)}, expected ${shapeToString(shape)} = [batch, pos, d_model]`,
      );
    }
  });
  const [batch, length, d] = shape as [number, number, number];
  if (pos !== undefined) checkPosition(pos, length, where);
  const rows = parts.map((part) => (pos === undefined ? part.data : rowsAtPosition(part, pos)));
  const size = rows[0]!.length;
  const out = new Float32Array(rows.length * size);
  rows.forEach((r, i) => out.set(r, i * size));
  return new Tensor(out, pos === undefined ? [rows.length, batch, length, d] : [rows.length, batch, d]);
}

/**
 * TransformerLens' `accumulated_resid`: the residual stream as it stands before each block
 * ("L_pre"), optionally also between attention and MLP ("L_mid"), and finally after the last block
 * ("final_post"). Values [components, batch, (pos,) d_model]; no LayerNorm (see `logitLens`).
 */
export function accumulatedResidual(
  cache: ActivationCache, config: ConfigLike, options: AccumulatedResidualOptions = {},
): AttributionResult {
  const where = "accumulatedResidual";
  const nLayers = nLayersOf(config);
  const layer = resolveLayer(options, nLayers, where);
  const inclMid = options.inclMid ?? options.incl_mid ?? false;
  const names: HookName[] = [];
  const labels: string[] = [];
  for (let l = 0; l <= layer; l++) {
    if (l === nLayers) {
      names.push(blockHook(nLayers - 1, "hook_resid_post"));
      labels.push("final_post");
      continue;
    }
    names.push(blockHook(l, "hook_resid_pre"));
    labels.push(`${l}_pre`);
    if (inclMid && l < layer) {
      names.push(blockHook(l, "hook_resid_mid"));
      labels.push(`${l}_mid`);
    }
  }
  requireCached(cache, names, where);
  const values = stackComponents(cache, names, options.pos, where);
  return { values, axes: axesFor(options.pos), labelAxis: "component", labels };
}

/**
 * TransformerLens' `decompose_resid`: the residual stream split into what wrote it — "embed",
 * "pos_embed", then "L_attn_out" and "L_mlp_out" per block (biases included), which sum to the
 * final `hook_resid_post` (or to `blocks.{layer}.hook_resid_pre` for a smaller `layer`).
 * Values [components, batch, (pos,) d_model].
 */
export function decomposedResidual(cache: ActivationCache, config: ConfigLike, options: ResidualOptions = {}): AttributionResult {
  const where = "decomposedResidual";
  const nLayers = nLayersOf(config);
  const layer = resolveLayer(options, nLayers, where);
  const names: HookName[] = ["hook_embed", "hook_pos_embed"];
  const labels = ["embed", "pos_embed"];
  for (let l = 0; l < layer; l++) {
    names.push(blockHook(l, "hook_attn_out"), blockHook(l, "hook_mlp_out"));
    labels.push(`${l}_attn_out`, `${l}_mlp_out`);
  }
  requireCached(cache, names, where);
  const values = stackComponents(cache, names, options.pos, where);
  return { values, axes: axesFor(options.pos), labelAxis: "component", labels };
}

function axesFor(pos: number | undefined): string[] {
  return pos === undefined ? ["component", "batch", "pos", "d_model"] : ["component", "batch", "d_model"];
}
