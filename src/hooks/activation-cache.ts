import type { Tensor } from "../tensor/tensor.ts";
import { HookError } from "./hook-error.ts";
import type { HookName } from "../gpt2/hook-names.ts";
import { nearestNames } from "./nearest-names.ts";

/** Activations recorded by one run, keyed by hook name, in the order they fired. */
export class ActivationCache implements Iterable<[HookName, Tensor]> {
  readonly #values = new Map<HookName, Tensor>();

  /** @internal used by the run that fills the cache */
  record(name: HookName, value: Tensor): void {
    this.#values.set(name, value);
  }

  has(name: HookName): boolean {
    return this.#values.has(name);
  }

  get(name: HookName): Tensor {
    const value = this.#values.get(name);
    if (value) return value;
    const cached = [...this.#values.keys()];
    const hint = cached.length
      ? `nearest cached names: ${nearestNames(name, cached).join(", ")}`
      : "the cache is empty (pass `cache: true` or a list of names to run)";
    throw new HookError("not_cached", `activation "${name}" is not in the cache; ${hint}`, name);
  }

  get names(): HookName[] {
    return [...this.#values.keys()];
  }

  get size(): number {
    return this.#values.size;
  }

  [Symbol.iterator](): IterableIterator<[HookName, Tensor]> {
    return this.#values.entries();
  }
}
