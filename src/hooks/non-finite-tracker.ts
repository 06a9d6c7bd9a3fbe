import type { HookName } from "../gpt2/hook-names.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { HookError } from "./hook-error.ts";

function firstNonFinite(values: Float32Array, allowMinusInfinity = false): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v - v !== 0 && !(allowMinusInfinity && v === -Infinity)) return i;
  }
  return -1;
}

function multiIndex(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index[axis] = flat % shape[axis]!;
    flat = Math.floor(flat / shape[axis]!);
  }
  return index;
}

/**
 * Remembers the first hook point whose value, after the user's hooks ran on it, holds NaN or
 * ±Infinity, so a run whose output is then not finite (or that fails on it, e.g. a softmax over
 * NaN scores) names the hook instead of the kernel that tripped over the value. Only values that
 * hooks ran on are scanned, and only until the first find: a run without hooks does no extra work.
 */
export class NonFiniteTracker {
  #first: string | null = null;
  #name: HookName | null = null;

  afterHooks(name: HookName, value: Tensor): void {
    if (this.#first !== null) return;
    // Attention scores hold −∞ above the diagonal by design (and a hook may mask with it).
    const i = firstNonFinite(value.data, name.endsWith("attn.hook_attn_scores"));
    if (i < 0) return;
    this.#name = name;
    this.#first = `hook on "${name}" left ${value.data[i]} at [${multiIndex(i, value.shape).join(", ")}] in its value`;
  }

  /** Throws hook_non_finite when a hook introduced a non-finite value and the logits are not finite. */
  checkLogits(logits: Tensor | null | undefined): void {
    if (this.#first === null || !logits || firstNonFinite(logits.data) < 0) return;
    throw new HookError("hook_non_finite", `${this.#first}, and the run's logits are not finite`, this.#name!);
  }

  /** The error to throw for a run that failed (not inside a hook) after a hook introduced a non-finite value. */
  explain(error: unknown): unknown {
    if (this.#first === null) return error;
    const reason = error instanceof Error ? error.message : String(error);
    return new HookError("hook_non_finite", `${this.#first}; the run then failed: ${reason}`, this.#name!, { cause: error });
  }
}
