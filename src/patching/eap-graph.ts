import type { Gpt2Config } from "../gpt2/config.ts";
import { allComponents, type Channel, type Component, componentLabel, isUpstream } from "./nodes.ts";

/**
 * The edge graph of EAP / EAP-IG (the path-patching graph with positions summed): senders are the
 * embedding (token + position, `blocks.0.hook_resid_pre`), every head's output (its `hook_result`
 * slice, z·W_O[h]) and every MLP's output; receivers are every head's q, k and v inputs, every MLP's
 * input and the logits (ln_final's input). An edge u → (v, channel) exists when u is computed before
 * v reads the residual stream (every sender for the logits).
 */
export type Receiver =
  | { readonly kind: "head"; readonly layer: number; readonly head: number; readonly channel: "q" | "k" | "v" }
  | { readonly kind: "mlp"; readonly layer: number; readonly channel: "in" }
  | { readonly kind: "logits"; readonly channel: "in" };

export interface EdgeGraph {
  readonly config: Gpt2Config;
  /** Embed, then per layer its heads and its MLP (compute order). */
  readonly senders: readonly Component[];
  /** Per layer its heads' q, k, v (head-major), then its MLP's input; the logits last. */
  readonly receivers: readonly Receiver[];
}

export function edgeGraph(config: Gpt2Config): EdgeGraph {
  const senders: Component[] = [{ kind: "embed" }, ...allComponents(config)];
  const receivers: Receiver[] = [];
  for (let layer = 0; layer < config.nLayers; layer++) {
    for (let head = 0; head < config.nHeads; head++) {
      for (const channel of ["q", "k", "v"] as const) receivers.push({ kind: "head", layer, head, channel });
    }
    receivers.push({ kind: "mlp", layer, channel: "in" });
  }
  receivers.push({ kind: "logits", channel: "in" });
  return { config, senders, receivers };
}

/** The receiver's component, or null for the logits. */
export function receiverComponent(receiver: Receiver): Component | null {
  if (receiver.kind === "logits") return null;
  return receiver.kind === "head" ? { kind: "head", layer: receiver.layer, head: receiver.head } : { kind: "mlp", layer: receiver.layer };
}

/** Whether u → receiver is an edge (u is computed before the receiver reads the residual stream). */
export function isEdge(sender: Component, receiver: Receiver): boolean {
  const to = receiverComponent(receiver);
  return to === null || isUpstream(sender, to);
}

/** "L5H1.q", "MLP8", "logits". */
export function receiverLabel(receiver: Receiver): string {
  const component = receiverComponent(receiver);
  if (component === null) return "logits";
  return receiver.kind === "head" ? `${componentLabel(component)}.${receiver.channel}` : componentLabel(component);
}

/** "L5H1 → L8H11.q". */
export function edgeLabel(graph: EdgeGraph, sender: number, receiver: number): string {
  return `${componentLabel(graph.senders[sender]!)} → ${receiverLabel(graph.receivers[receiver]!)}`;
}

/** The number of senders upstream of each receiver (senders are in compute order, so they are a prefix). */
export function upstreamCount(graph: EdgeGraph, receiver: number): number {
  const r = graph.receivers[receiver]!;
  if (r.kind === "logits") return graph.senders.length;
  const { nHeads } = graph.config;
  // embed + (heads + MLP) per earlier layer, + this layer's heads for an MLP.
  return 1 + r.layer * (nHeads + 1) + (r.kind === "mlp" ? nHeads : 0);
}

export function receiverChannel(receiver: Receiver): Channel {
  return receiver.channel;
}

export function edgeCount(graph: EdgeGraph): number {
  let total = 0;
  for (let r = 0; r < graph.receivers.length; r++) total += upstreamCount(graph, r);
  return total;
}

/** The index of a sender (embed, head or MLP) in graph.senders. */
export function senderIndex(graph: EdgeGraph, sender: Component): number {
  if (sender.kind === "embed") return 0;
  const { nHeads } = graph.config;
  return 1 + sender.layer * (nHeads + 1) + (sender.kind === "mlp" ? nHeads : sender.head);
}

/** The index in graph.receivers of a component's input channel (null component: the logits). */
export function receiverIndex(graph: EdgeGraph, component: Component | null, channel: Channel): number {
  const { nHeads } = graph.config;
  if (component === null) return graph.receivers.length - 1;
  if (component.kind === "embed") return -1;
  const base = component.layer * (3 * nHeads + 1);
  if (component.kind === "mlp") return channel === "in" ? base + 3 * nHeads : -1;
  const offset = "qkv".indexOf(channel);
  return offset < 0 ? -1 : base + component.head * 3 + offset;
}
