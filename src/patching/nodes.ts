import type { Gpt2Config } from "../gpt2/config.ts";
import { PatchingError } from "./patching-error.ts";

/**
 * A component of the computational graph at one position: the embedding (token + position),
 * one attention head's output (`hook_result`), or one MLP's output (`hook_mlp_out`).
 */
export type Component =
  | { readonly kind: "embed" }
  | { readonly kind: "head"; readonly layer: number; readonly head: number }
  | { readonly kind: "mlp"; readonly layer: number };

export type NodeAt = Component & { readonly pos: number };

/** Which input of a head a path enters by; MLPs and the logits have the one input "in". */
export type Channel = "q" | "k" | "v" | "in";

/** TransformerLens-style labels: "embed", "L5H3", "MLP9". */
export function componentLabel(component: Component): string {
  if (component.kind === "embed") return "embed";
  if (component.kind === "head") return `L${component.layer}H${component.head}`;
  return `MLP${component.layer}`;
}

/** Module names as the report uses them: "blocks.9.mlp", "blocks.5.attn.h3". */
export function componentName(component: Component): string {
  if (component.kind === "embed") return "embed";
  if (component.kind === "head") return `blocks.${component.layer}.attn.h${component.head}`;
  return `blocks.${component.layer}.mlp`;
}

const LABEL = /^(?:L(\d+)H(\d+)|MLP(\d+)|embed|blocks\.(\d+)\.mlp|blocks\.(\d+)\.attn\.h(\d+))$/;

/** Parses "L5H3", "MLP9", "embed", "blocks.9.mlp" or "blocks.5.attn.h3", checked against the model. */
export function parseComponent(text: string, config: Gpt2Config): Component {
  const match = LABEL.exec(text.trim());
  if (!match) {
    throw new PatchingError(
      "unknown_component",
      `unknown component "${text}": expected "embed", "L<layer>H<head>", "MLP<layer>", "blocks.<layer>.mlp" or "blocks.<layer>.attn.h<head>"`,
    );
  }
  let component: Component;
  if (match[1] !== undefined) component = { kind: "head", layer: Number(match[1]), head: Number(match[2]) };
  else if (match[5] !== undefined) component = { kind: "head", layer: Number(match[5]), head: Number(match[6]) };
  else if (match[3] !== undefined) component = { kind: "mlp", layer: Number(match[3]) };
  else if (match[4] !== undefined) component = { kind: "mlp", layer: Number(match[4]) };
  else component = { kind: "embed" };
  checkComponent(component, config);
  return component;
}

export function checkComponent(component: Component, config: Gpt2Config): void {
  if (component.kind === "embed") return;
  if (!Number.isInteger(component.layer) || component.layer < 0 || component.layer >= config.nLayers) {
    throw new PatchingError(
      "unknown_component",
      `component ${componentLabel(component)}: layer ${component.layer} is outside the model's layers 0…${config.nLayers - 1}`,
    );
  }
  if (component.kind === "head" && (!Number.isInteger(component.head) || component.head < 0 || component.head >= config.nHeads)) {
    throw new PatchingError(
      "unknown_component",
      `component ${componentLabel(component)}: head ${component.head} is outside 0…${config.nHeads - 1}`,
    );
  }
}

/** Order of computation: embed, then per layer the heads, then the MLP. */
export function computeOrder(component: Component): number {
  if (component.kind === "embed") return -1;
  return component.layer * 2 + (component.kind === "mlp" ? 1 : 0);
}

/** Whether `from`'s output is part of `to`'s input (the residual stream it reads). */
export function isUpstream(from: Component, to: Component): boolean {
  return computeOrder(from) < computeOrder(to);
}

/** Whether a delta at `from.pos` enters `to` through `channel`. */
export function entersThrough(from: NodeAt, to: NodeAt, channel: Channel): boolean {
  if (!isUpstream(from, to)) return false;
  if (channel === "k" || channel === "v") return from.pos <= to.pos;
  return from.pos === to.pos;
}

export function sameNode(a: NodeAt, b: NodeAt): boolean {
  return a.pos === b.pos && componentLabel(a) === componentLabel(b);
}

export function nodeLabel(node: NodeAt): string {
  return `${componentLabel(node)}@${node.pos}`;
}

/** Every head and MLP of the model, in compute order. */
export function allComponents(config: Gpt2Config): Component[] {
  const components: Component[] = [];
  for (let layer = 0; layer < config.nLayers; layer++) {
    for (let head = 0; head < config.nHeads; head++) components.push({ kind: "head", layer, head });
    components.push({ kind: "mlp", layer });
  }
  return components;
}
