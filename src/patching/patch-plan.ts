/**
 * What one activation-patching variant replaces, shared by exact activation patching and its
 * attribution (linear) approximation so both enumerate and group the same slices: the hook point of
 * each component, the groupings it supports, the grid of variants and the slices of one prompt row
 * each variant patches; and the checks of the options both take.
 */
import type { TokenBatch, TokenInput } from "../gpt2/tokens.ts";
import { blockHook, type BlockHookSuffix, type HookName } from "../gpt2/hook-names.ts";
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import { unpaddedTokens } from "../hooks/run-input.ts";
import { shapeToString } from "../tensor/tensor.ts";
import { PatchingError } from "./patching-error.ts";
import type { PatchComponent, PatchDirection, PatchGrouping } from "./patching-result.ts";

const HOOK_SUFFIX: Record<PatchComponent, BlockHookSuffix> = {
  resid_pre: "hook_resid_pre",
  resid_mid: "hook_resid_mid",
  resid_post: "hook_resid_post",
  attn_out: "hook_attn_out",
  mlp_out: "hook_mlp_out",
  z: "attn.hook_z",
  q: "attn.hook_q",
  k: "attn.hook_k",
  v: "attn.hook_v",
  pattern: "attn.hook_pattern",
};

const GROUPINGS: Record<PatchComponent, readonly PatchGrouping[]> = {
  resid_pre: ["layer_pos"],
  resid_mid: ["layer_pos"],
  resid_post: ["layer_pos"],
  attn_out: ["layer_pos"],
  mlp_out: ["layer_pos"],
  z: ["layer_head", "layer_pos_head"],
  q: ["layer_head", "layer_pos_head"],
  k: ["layer_head", "layer_pos_head"],
  v: ["layer_head", "layer_pos_head"],
  pattern: ["layer_head"],
};

/** Every supported (component, grouping) pair, e.g. "z by layer_head". */
export function supportedPatches(): string[] {
  return Object.entries(GROUPINGS).flatMap(([component, groupings]) => groupings.map((by) => `${component} by ${by}`));
}

/** Contiguous runs [offset, length] of one prompt row of an activation that a variant replaces. */
export type Segments = readonly (readonly [number, number])[];

export interface Plan {
  readonly gridShape: number[];
  readonly gridAxes: string[];
  readonly variantsPerLayer: number;
  /** Elements of one prompt row of the patched activation. */
  readonly rowSize: number;
  segments(variant: number): Segments;
  /** The one position a variant patches, or null when it patches every position. */
  position(variant: number): number | null;
}

export function planFor(model: HookedGpt2, component: PatchComponent, by: PatchGrouping, pos: number): Plan {
  const { nLayers, nHeads, dHead, dModel } = model.config;
  if (by === "layer_pos") {
    return {
      gridShape: [nLayers, pos], gridAxes: ["layer", "pos"], variantsPerLayer: pos, rowSize: pos * dModel,
      segments: (p) => [[p * dModel, dModel]],
      position: (p) => p,
    };
  }
  if (component === "pattern") {
    return {
      gridShape: [nLayers, nHeads], gridAxes: ["layer", "head"], variantsPerLayer: nHeads, rowSize: nHeads * pos * pos,
      segments: (h) => [[h * pos * pos, pos * pos]],
      position: () => null,
    };
  }
  const rowSize = pos * nHeads * dHead;
  if (by === "layer_head") {
    return {
      gridShape: [nLayers, nHeads], gridAxes: ["layer", "head"], variantsPerLayer: nHeads, rowSize,
      segments: (h) => Array.from({ length: pos }, (_, p) => [(p * nHeads + h) * dHead, dHead] as const),
      position: () => null,
    };
  }
  return {
    gridShape: [nLayers, pos, nHeads], gridAxes: ["layer", "pos", "head"], variantsPerLayer: pos * nHeads, rowSize,
    segments: (v) => [[v * dHead, dHead]], // v = p·nHeads + h: [p, h] is contiguous
    position: (v) => Math.floor(v / nHeads),
  };
}

/** The hook point a component patches at one layer, e.g. z at 3 → "blocks.3.attn.hook_z". */
export function patchHookName(component: PatchComponent, layer: number): HookName {
  return blockHook(layer, HOOK_SUFFIX[component]);
}

export function checkPatchChoice(component: unknown, by: unknown): asserts component is PatchComponent {
  if (typeof component !== "string" || !Object.hasOwn(GROUPINGS, component) ||
    !GROUPINGS[component as PatchComponent].includes(by as PatchGrouping)) {
    throw new PatchingError(
      "unsupported_patch",
      `cannot patch component "${String(component)}" by "${String(by)}"; supported: ${supportedPatches().join(", ")}`,
    );
  }
}

export function checkDirection(direction: unknown, fallback: PatchDirection): PatchDirection {
  const chosen = direction ?? fallback;
  if (chosen !== "denoising" && chosen !== "noising") {
    throw new PatchingError("bad_option", `direction must be "denoising" or "noising", got ${JSON.stringify(chosen)}`);
  }
  return chosen;
}

/** The clean and corrupted prompts as unpadded token batches of one shape. */
export function checkPromptPair(
  model: HookedGpt2,
  cleanInput: TokenInput | string | readonly string[],
  corruptedInput: TokenInput | string | readonly string[],
): { clean: TokenBatch; corrupted: TokenBatch } {
  const clean = model.tokens(unpaddedTokens(cleanInput, "clean"));
  const corrupted = model.tokens(unpaddedTokens(corruptedInput, "corrupted"));
  if (clean.batch !== corrupted.batch || clean.pos !== corrupted.pos) {
    throw new PatchingError(
      "shape_mismatch",
      `clean tokens ${shapeToString([clean.batch, clean.pos])} and corrupted tokens ${shapeToString([corrupted.batch, corrupted.pos])} differ in shape`,
    );
  }
  return { clean, corrupted };
}

/** Tick labels of result axes: "L0".. for layers, "H0".. for heads, indices otherwise. */
export function axisLabels(axes: readonly string[], shape: readonly number[]): string[][] {
  return axes.map((axis, i) =>
    Array.from({ length: shape[i]! }, (_, j) => (axis === "layer" ? `L${j}` : axis === "head" ? `H${j}` : String(j))));
}
