import { InputError } from "../errors.ts";
import { nearestNames } from "../nearest-names.ts";
import type { Gpt2Config } from "./config.ts";

/** The hook points of one block, in the order they fire. */
export const BLOCK_HOOK_SUFFIXES = [
  "hook_resid_pre",
  "ln1.hook_scale",
  "ln1.hook_normalized",
  "attn.hook_q",
  "attn.hook_k",
  "attn.hook_v",
  "attn.hook_attn_scores",
  "attn.hook_pattern",
  "attn.hook_z",
  "attn.hook_result",
  "hook_attn_out",
  "hook_resid_mid",
  "ln2.hook_scale",
  "ln2.hook_normalized",
  "mlp.hook_pre",
  "mlp.hook_post",
  "hook_mlp_out",
  "hook_resid_post",
] as const;

export type BlockHookSuffix = (typeof BLOCK_HOOK_SUFFIXES)[number];
export type BlockHookName = `blocks.${number}.${BlockHookSuffix}`;
export type GlobalHookName =
  | "hook_embed"
  | "hook_pos_embed"
  | "ln_final.hook_scale"
  | "ln_final.hook_normalized"
  | "logits";
/** A TransformerLens hook-point name, e.g. `blocks.3.attn.hook_pattern`. */
export type HookName = GlobalHookName | BlockHookName;

/** Computed only when a hook or the cache asks for it. */
export const OPTIONAL_BLOCK_HOOKS: ReadonlySet<BlockHookSuffix> = new Set(["attn.hook_result"]);

export function blockHook(layer: number, suffix: BlockHookSuffix): BlockHookName {
  return `blocks.${layer}.${suffix}`;
}

/** Every hook point of a model in firing order (`attn.hook_result` included). */
export function hookNames(config: Pick<Gpt2Config, "nLayers">): HookName[] {
  const names: HookName[] = ["hook_embed", "hook_pos_embed"];
  for (let layer = 0; layer < config.nLayers; layer++) {
    for (const suffix of BLOCK_HOOK_SUFFIXES) names.push(blockHook(layer, suffix));
  }
  names.push("ln_final.hook_scale", "ln_final.hook_normalized", "logits");
  return names;
}

const BLOCK_NAME = /^blocks\.(\d+)\.(.+)$/;

/** Splits `blocks.L.suffix` into its layer and suffix; null for the global hook points. */
export function parseHookName(name: string): { layer: number; suffix: BlockHookSuffix } | null {
  const match = BLOCK_NAME.exec(name);
  if (!match) return null;
  return { layer: Number(match[1]), suffix: match[2] as BlockHookSuffix };
}

/** Whether hook point `name` fires in a pass that starts at `blocks.{startLayer}.hook_resid_pre`. */
export function firesFromLayer(name: HookName, startLayer: number): boolean {
  if (name === "hook_embed" || name === "hook_pos_embed") return false;
  const layer = parseHookName(name)?.layer;
  return layer === undefined || layer >= startLayer;
}

/** Shape of an activation, as in TransformerLens, for a batch of `batch` prompts of `pos` tokens. */
export function hookShape(name: HookName, config: Gpt2Config, batch: number, pos: number): number[] {
  const { dModel, nHeads, dHead, dMlp, dVocab } = config;
  const suffix = parseHookName(name)?.suffix ?? name;
  switch (suffix) {
    case "attn.hook_q":
    case "attn.hook_k":
    case "attn.hook_v":
    case "attn.hook_z":
      return [batch, pos, nHeads, dHead];
    case "attn.hook_attn_scores":
    case "attn.hook_pattern":
      return [batch, nHeads, pos, pos];
    case "attn.hook_result":
      return [batch, pos, nHeads, dModel];
    case "mlp.hook_pre":
    case "mlp.hook_post":
      return [batch, pos, dMlp];
    case "ln1.hook_scale":
    case "ln2.hook_scale":
    case "ln_final.hook_scale":
      return [batch, pos, 1];
    case "logits":
      return [batch, pos, dVocab];
    default:
      return [batch, pos, dModel];
  }
}

/** TransformerLens's short activation names (`get_act_name`), and its aliases for them. */
export const ACT_SHORT_NAMES = [
  "embed", "pos_embed",
  "resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out",
  "q", "k", "v", "z", "pattern", "attn_scores", "result",
  "pre", "post",
  "scale", "normalized",
  "attn", "attn_logits", "key", "query", "value", "mlp_pre", "mlp_post",
] as const;
export type ActShortName = (typeof ACT_SHORT_NAMES)[number];
/** Where a LayerNorm hook or a short name sits: `ln1`/`ln2`, or TransformerLens's layer types and their aliases. */
export type LayerType = "ln1" | "ln2" | "attn" | "mlp" | "a" | "m" | "b" | "block" | "blocks" | "attention";
/** What {@link actName} accepts: a full hook name, a block suffix, a short name, or TL's compact `pattern3` / `scale4ln1`. */
export type ActNameInput =
  | HookName
  | BlockHookSuffix
  | ActShortName
  | `${ActShortName}${number}`
  | `${"scale" | "normalized"}${number}${"ln1" | "ln2"}`;

const GLOBAL_HOOK_NAMES: ReadonlySet<string> = new Set<GlobalHookName>([
  "hook_embed", "hook_pos_embed", "ln_final.hook_scale", "ln_final.hook_normalized", "logits",
]);
const BLOCK_SUFFIXES: ReadonlySet<string> = new Set(BLOCK_HOOK_SUFFIXES);
const ACT_ALIASES: Readonly<Record<string, string>> = {
  attn: "pattern", attn_logits: "attn_scores", key: "k", query: "q", value: "v", mlp_pre: "pre", mlp_mid: "mid", mlp_post: "post",
};
const LAYER_TYPE_ALIASES: Readonly<Record<string, string>> = { a: "attn", m: "mlp", b: "", block: "", blocks: "", attention: "attn" };
const ATTN_NAMES = new Set(["k", "v", "q", "z", "rot_k", "rot_q", "result", "pattern", "attn_scores"]);
const MLP_NAMES = new Set(["pre", "post", "mid", "pre_linear"]);
const COMPACT = /^([a-z]+)(\d+)([a-z]?.*)$/;

/** Whether `name` is the name of a hook point of some GPT-2 (any layer number). */
export function isHookName(name: string): name is HookName {
  if (GLOBAL_HOOK_NAMES.has(name)) return true;
  const parsed = parseHookName(name);
  return parsed !== null && BLOCK_SUFFIXES.has(parsed.suffix) && /^blocks\.(0|[1-9]\d*)\./.test(name);
}

/**
 * TransformerLens's `get_act_name`: the full hook name for a short one. `actName("pattern", 0)` →
 * `blocks.0.attn.hook_pattern`, `actName("resid_pre", 3)` → `blocks.3.hook_resid_pre`,
 * `actName("scale", 2, "ln1")` → `blocks.2.ln1.hook_scale`, `actName("scale")` → `ln_final.hook_scale`,
 * `actName("embed")` → `hook_embed`; also TL's compact `"pattern3"`, `"scale4ln1"`, its aliases
 * (`"attn"` for pattern, `"attn_logits"`, `"key"`, …) and a block suffix with a layer
 * (`actName("attn.hook_z", 1)`). A full name is returned as it is. A name that names no GPT-2 hook
 * point is an InputError `unknown_act_name` listing the nearest valid names.
 */
export function actName(name: ActNameInput, layer?: number, layerType?: LayerType): HookName {
  const given = String(name);
  if (layer !== undefined && (!Number.isInteger(layer) || layer < 0)) {
    throw new InputError(`actName: layer ${layer} must be a non-negative integer (for "${given}")`, "bad_layer");
  }
  if (layer === undefined && layerType === undefined && isHookName(given)) return given;
  if (layer !== undefined && layerType === undefined && BLOCK_SUFFIXES.has(given)) return blockHook(layer, given as BlockHookSuffix);
  const full = tlActName(given, layer, layerType);
  if (isHookName(full)) return full;
  const shown = [given, layer, layerType].filter((part) => part !== undefined).map((part) => JSON.stringify(part)).join(", ");
  if ((given === "scale" || given === "normalized") && layer !== undefined) {
    throw new InputError(
      `unknown activation name (${shown}): a block has two LayerNorms; say which, e.g. actName("${given}", ${layer}, "ln1") or "ln2"`,
      "unknown_act_name",
    );
  }
  const candidates = [...ACT_SHORT_NAMES, ...GLOBAL_HOOK_NAMES, ...BLOCK_HOOK_SUFFIXES];
  throw new InputError(
    `unknown activation name (${shown}): it would be "${full}", which is no GPT-2 hook point; nearest names: ${nearestNames(given, candidates)
      .map((n) => `"${n}"`)
      .join(", ")}`,
    "unknown_act_name",
  );
}

/** TransformerLens's get_act_name, step for step (utils.py), without validation. */
function tlActName(name: string, layer: number | undefined, layerType: string | undefined): string {
  if ((name.includes(".") || name.startsWith("hook_")) && layer === undefined && layerType === undefined) return name;
  const compact = COMPACT.exec(name);
  if (compact) {
    if (layer !== undefined) {
      throw new InputError(`actName: "${name}" already names layer ${compact[2]}; pass the layer once`, "bad_layer");
    }
    [, name, , layerType] = compact as unknown as [string, string, string, string];
    layer = Number(compact[2]);
    if (layerType === "") layerType = undefined;
  }
  name = ACT_ALIASES[name] ?? name;
  let type = layerType;
  if (ATTN_NAMES.has(name)) type = "attn";
  else if (MLP_NAMES.has(name)) type = "mlp";
  else if (type !== undefined && type in LAYER_TYPE_ALIASES) type = LAYER_TYPE_ALIASES[type];
  let full = layer !== undefined ? `blocks.${layer}.` : "";
  if (type) full += `${type}.`;
  full += `hook_${name}`;
  if ((name === "scale" || name === "normalized") && layer === undefined) full = `ln_final.${full}`;
  return full;
}
