import type { TokenInput } from "../gpt2/tokens.ts";
import type { ActivationCache } from "../hooks/activation-cache.ts";
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import { blockHook, type HookName, hookNames, OPTIONAL_BLOCK_HOOKS, parseHookName } from "../gpt2/hook-names.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** A broken invariant: what, where, and by how much. */
export interface Violation {
  readonly check: string;
  readonly where: string;
  readonly detail: string;
}

function maxRelativeDifference(a: Float32Array, b: Float32Array): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

function sumOf(a: Tensor, b: Tensor): Float32Array {
  return a.data.map((x, i) => x + b.data[i]!);
}

/** resid_mid = resid_pre + attn_out and resid_post = resid_mid + mlp_out in every block. */
export function residualViolations(cache: ActivationCache, nLayers: number, tolerance = 1e-5): Violation[] {
  const violations: Violation[] = [];
  for (let layer = 0; layer < nLayers; layer++) {
    const pairs: [HookName, HookName, HookName][] = [
      [blockHook(layer, "hook_resid_mid"), blockHook(layer, "hook_resid_pre"), blockHook(layer, "hook_attn_out")],
      [blockHook(layer, "hook_resid_post"), blockHook(layer, "hook_resid_mid"), blockHook(layer, "hook_mlp_out")],
    ];
    for (const [total, a, b] of pairs) {
      const error = maxRelativeDifference(cache.get(total).data, sumOf(cache.get(a), cache.get(b)));
      if (!(error <= tolerance)) violations.push({ check: "residual", where: total, detail: `${total} ≠ ${a} + ${b} (relative error ${error})` });
    }
  }
  return violations;
}

/** Every attention pattern row sums to 1 and is exactly 0 above the diagonal. */
export function patternViolations(cache: ActivationCache, nLayers: number, tolerance = 1e-5): Violation[] {
  const violations: Violation[] = [];
  for (let layer = 0; layer < nLayers; layer++) {
    const name = blockHook(layer, "attn.hook_pattern");
    const pattern = cache.get(name);
    const [batch, heads, queries, keys] = pattern.shape as [number, number, number, number];
    for (let row = 0; row < batch * heads * queries; row++) {
      const q = row % queries;
      let sum = 0;
      for (let k = 0; k < keys; k++) {
        const p = pattern.data[row * keys + k]!;
        if (k > q && p !== 0) violations.push({ check: "causal", where: name, detail: `row ${row}: key ${k} > query ${q} has weight ${p}` });
        sum += p;
      }
      if (!(Math.abs(sum - 1) <= tolerance)) violations.push({ check: "pattern-sum", where: name, detail: `row ${row} sums to ${sum}` });
    }
  }
  return violations;
}

/** Runs the prompt with a hook on every point and reports hooks that fired twice, never, or out of order. */
export function hookOrderViolations(model: HookedGpt2, tokens: TokenInput): Violation[] {
  const fired: HookName[] = [];
  model.run(tokens, { hooks: [[() => true, (_, context) => void fired.push(context.name)]] });
  const expected = hookNames(model.config);
  const violations: Violation[] = [];
  const seen = new Set<string>();
  for (const name of fired) {
    if (seen.has(name)) violations.push({ check: "fires-once", where: name, detail: "fired more than once" });
    seen.add(name);
  }
  if (fired.join("\n") !== expected.join("\n")) {
    violations.push({ check: "order", where: "run", detail: `fired ${fired.length} hooks, expected ${expected.length} in documented order` });
  }
  return violations;
}

/**
 * A hook returning its input unchanged (or a copy of the cached value) must leave logits
 * bit-identical to a run with a hook that only looks (a hook on `attn.hook_result` makes attn_out
 * the per-head sum, so the baseline carries a hook on the same name).
 */
export function identityHookViolations(model: HookedGpt2, tokens: TokenInput, name: HookName): Violation[] {
  const plain = model.run(tokens, { cache: [name], hooks: [[name, () => undefined]] });
  const cached = plain.cache.get(name);
  const variants: [string, () => Tensor][] = [
    ["identity", () => model.run(tokens, { hooks: [[name, (x) => x]] }).logits],
    ["cached copy", () => model.run(tokens, { hooks: [[name, () => cached.clone()]] }).logits],
  ];
  const violations: Violation[] = [];
  for (const [label, run] of variants) {
    const logits = run();
    const differs = logits.data.some((v, i) => !Object.is(v, plain.logits.data[i]));
    if (differs) violations.push({ check: label, where: name, detail: `a ${label} hook on ${name} changed the logits` });
  }
  return violations;
}

/** Σ over heads of hook_result + the output bias = hook_attn_out. */
export function headResultViolations(model: HookedGpt2, cache: ActivationCache, tolerance = 1e-5): Violation[] {
  const violations: Violation[] = [];
  for (const name of cache.names) {
    const parsed = parseHookName(name);
    if (!parsed || !OPTIONAL_BLOCK_HOOKS.has(parsed.suffix)) continue;
    const result = cache.get(name);
    const [batch, pos, heads, d] = result.shape as [number, number, number, number];
    const bias = model.model.weights.blocks[parsed.layer]!.outBias;
    const summed = new Float32Array(batch * pos * d);
    for (let r = 0; r < batch * pos; r++) {
      for (let j = 0; j < d; j++) {
        let total = bias[j]!;
        for (let h = 0; h < heads; h++) total += result.data[(r * heads + h) * d + j]!;
        summed[r * d + j] = total;
      }
    }
    const error = maxRelativeDifference(summed, cache.get(blockHook(parsed.layer, "hook_attn_out")).data);
    if (!(error <= tolerance)) violations.push({ check: "head-sum", where: name, detail: `Σ heads + b_O differs from hook_attn_out by ${error}` });
  }
  return violations;
}

/** All of the above on one prompt; an empty list means every invariant holds. */
export function checkHookInvariants(model: HookedGpt2, tokens: TokenInput, name?: HookName): Violation[] {
  const { cache } = model.run(tokens, { cache: true });
  return [
    ...residualViolations(cache, model.config.nLayers),
    ...patternViolations(cache, model.config.nLayers),
    ...headResultViolations(model, cache),
    ...hookOrderViolations(model, tokens),
    ...(name ? identityHookViolations(model, tokens, name) : []),
  ];
}
