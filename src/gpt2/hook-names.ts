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
