import type { HookName } from "../gpt2/hook-names.ts";
import { sameShape, shapeToString, Tensor } from "../tensor/tensor.ts";
import { HookError } from "./hook-error.ts";

export interface HookContext {
  readonly name: HookName;
  /** The block index, or null for hook_embed, hook_pos_embed, ln_final.* and logits. */
  readonly layer: number | null;
  /** The activation's (or gradient's) shape, which a replacement must keep. */
  readonly shape: readonly number[];
}

/** Sees an activation (or a gradient); returns a same-shaped replacement, or nothing to keep it (in-place edits count). */
export type HookFn = (activation: Tensor, context: HookContext) => Tensor | void;

export type HookSelector = HookName | ((name: HookName) => boolean);
export type HookSpec = readonly [HookSelector, HookFn];

export type CacheSelector = boolean | readonly HookName[] | ((name: HookName) => boolean);

/** What resolving hook names needs of a model: its names, and the check that throws the typed nearest-name error. */
export interface HookNameSource {
  readonly hookNames: readonly HookName[];
  assertHookName(name: string, where?: string): asserts name is HookName;
}

/**
 * [name or filter, fn] pairs → the functions per hook name, in the given order. Each name is
 * checked (`unknown_hook` with the nearest names); `check` adds a caller's own test of a name given
 * literally. `where` names the option ("hooks", "backwardHooks").
 */
export function resolveHookSpecs(
  source: HookNameSource, hooks: readonly HookSpec[], where: string, check?: (name: HookName, where: string) => void,
): Map<HookName, HookFn[]> {
  const byName = new Map<HookName, HookFn[]>();
  hooks.forEach((spec, index) => {
    if (!Array.isArray(spec) || spec.length !== 2 || typeof spec[1] !== "function") {
      throw new HookError("bad_hook", `${where}[${index}] must be a [name, fn] pair`);
    }
    const [selector, fn] = spec;
    const names = typeof selector === "function" ? source.hookNames.filter((n) => selector(n)) : [selector];
    for (const name of names) {
      source.assertHookName(name, `${where}[${index}]`);
      if (typeof selector !== "function") check?.(name, `${where}[${index}]`);
      byName.set(name, [...(byName.get(name) ?? []), fn]);
    }
  });
  return byName;
}

/** A selector of hook names → a predicate; listed names are checked as in {@link resolveHookSpecs}. */
export function resolveNameSelector(
  source: HookNameSource, selector: CacheSelector, where: string, check?: (name: HookName, where: string) => void,
): (name: HookName) => boolean {
  if (typeof selector === "boolean") return () => selector;
  if (typeof selector === "function") return selector;
  selector.forEach((name) => {
    source.assertHookName(name, where);
    check?.(name, where);
  });
  const wanted = new Set<string>(selector);
  return (name) => wanted.has(name);
}

/** Runs a hook point's functions in order on `value`; a returned tensor replaces it (same shape). */
export function applyHooks(name: HookName, layer: number | null, value: Tensor, fns: readonly HookFn[]): Tensor {
  let current = value;
  for (const fn of fns) {
    const replacement = fn(current, { name, layer, shape: current.shape });
    if (replacement !== undefined) current = checkReplacement(name, current, replacement);
  }
  return current;
}

export function checkReplacement(name: HookName, current: Tensor, replacement: unknown): Tensor {
  if (!(replacement instanceof Tensor)) {
    throw new HookError("hook_bad_return", `hook on "${name}" returned ${typeof replacement}, expected a Tensor or nothing`, name);
  }
  if (!sameShape(replacement.shape, current.shape)) {
    throw new HookError(
      "hook_wrong_shape",
      `hook on "${name}" returned shape ${shapeToString(replacement.shape)}, expected ${shapeToString(current.shape)}`,
      name,
    );
  }
  return replacement;
}
