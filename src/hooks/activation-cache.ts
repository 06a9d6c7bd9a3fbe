import { InputError } from "../errors.ts";
import { formatHeader } from "../tensor/format.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { HookError } from "./hook-error.ts";
import { actName, type ActNameInput, type HookName, type LayerType } from "../gpt2/hook-names.ts";
import { nearestNames } from "../nearest-names.ts";

/**
 * Activations recorded by one run, keyed by hook name, in the order they fired; or (kind
 * "gradient") the gradients of a metric at hook points, from runWithGradients, in the order the
 * backward reached them.
 */
export class ActivationCache implements Iterable<[HookName, Tensor]> {
  readonly #values = new Map<HookName, Tensor>();
  readonly kind: "activation" | "gradient";

  constructor(kind: "activation" | "gradient" = "activation") {
    this.kind = kind;
  }

  /** @internal used by the run that fills the cache */
  record(name: HookName, value: Tensor): void {
    this.#values.set(name, value);
  }

  /**
   * Whether the cache holds `name` (a full hook name, or TransformerLens's short form as in
   * {@link get}); false, not an error, for a name that is no hook point.
   */
  has(name: ActNameInput, layer?: number, layerType?: LayerType): boolean {
    if (layer === undefined && layerType === undefined && this.#values.has(name as HookName)) return true;
    try {
      return this.#values.has(actName(name, layer, layerType));
    } catch (error) {
      if (error instanceof InputError) return false;
      throw error;
    }
  }

  /**
   * The activation at a hook point: `get("blocks.0.attn.hook_pattern")`, or TransformerLens's short
   * form `get("pattern", 0)`, `get("resid_pre", 3)`, `get("scale", 2, "ln1")`, `get("embed")` (see
   * actName). A name that is no hook point is an InputError `unknown_act_name`; a hook point not
   * cached is a HookError `not_cached` with the nearest cached names.
   */
  get(name: ActNameInput, layer?: number, layerType?: LayerType): Tensor {
    const direct = layer === undefined && layerType === undefined ? this.#values.get(name as HookName) : undefined;
    if (direct) return direct;
    const full = actName(name, layer, layerType);
    const value = this.#values.get(full);
    if (value) return value;
    const cached = [...this.#values.keys()];
    const option = this.kind === "gradient" ? "`grads: true` or a list of names to runWithGradients" : "`cache: true` or a list of names to run";
    const hint = cached.length ? `nearest cached names: ${nearestNames(full, cached).join(", ")}` : `the cache is empty (pass ${option})`;
    throw new HookError("not_cached", `${this.kind} "${full}" is not in the cache; ${hint}`, full);
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

  /** `ActivationCache with N activations:` and one `name  [shape]` line per activation, in firing order. */
  toString(): string {
    const width = Math.max(0, ...this.names.map((name) => name.length));
    const lines = [...this.#values].map(([name, t]) => `  ${name.padEnd(width)}  [${t.shape.join(", ")}]`);
    return [`ActivationCache with ${this.size} ${this.kind}${this.size === 1 ? "" : "s"}${this.size ? ":" : ""}`, ...lines].join("\n");
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  [Symbol.for("Jupyter.display")](): Record<string, string> {
    const cell = "border:1px solid #ddd;padding:2px 8px;text-align:left;font:12px monospace";
    const rows = [...this.#values].map(
      ([name, t]) => `<tr><td style="${cell}">${name}</td><td style="${cell}">${formatHeader(t.shape).replace(/^Tensor /, "")}</td></tr>`,
    );
    const html = `<table style="border-collapse:collapse"><caption style="font:12px monospace;text-align:left">ActivationCache with ${this.size} ${this.kind}${this.size === 1 ? "" : "s"}</caption><tr><th style="${cell}">hook</th><th style="${cell}">shape</th></tr>${rows.join("")}</table>`;
    return { "text/plain": this.toString(), "text/html": html };
  }
}
