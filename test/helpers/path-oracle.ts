/**
 * A second implementation of exact path patching that uses nothing but hooked forward passes of the
 * clean prompts: node outputs are read from `attn.hook_result` / `hook_mlp_out` /
 * `blocks.0.hook_resid_pre` and forced there, a receiver's unchosen channels are reset at
 * `attn.hook_q|k|v`, and every LayerNorm, attention and MLP is the model's own. The only arithmetic
 * here is copying rows.
 */
import type { TokenBatch } from "../../src/gpt2/tokens.ts";
import type { ActivationCache } from "../../src/hooks/activation-cache.ts";
import type { HookedGpt2, HookSpec } from "../../src/hooks/hooked-gpt2.ts";
import type { BlockHookName, HookName } from "../../src/gpt2/hook-names.ts";
import type { Channel, NodeAt } from "../../src/patching/nodes.ts";
import { Tensor } from "../../src/tensor/tensor.ts";

export interface OracleReceiver {
  readonly node: NodeAt;
  readonly channels: readonly Channel[];
}

export interface OraclePath {
  readonly sender: NodeAt;
  readonly receivers: "logits" | readonly OracleReceiver[];
  /** A node given with channels takes the path's changes on those inputs only. */
  readonly continuation?: readonly (NodeAt | OracleReceiver)[];
}

type Rows = Float32Array;

const HEAD_CHANNELS = ["q", "k", "v"] as const;

function key(node: NodeAt): string {
  if (node.kind === "embed") return `embed@${node.pos}`;
  if (node.kind === "head") return `L${node.layer}H${node.head}@${node.pos}`;
  return `MLP${node.layer}@${node.pos}`;
}

/** Heads of a layer are computed before its MLP; the embedding comes first. */
function order(node: NodeAt): number {
  return node.kind === "embed" ? -1 : node.layer * 2 + (node.kind === "mlp" ? 1 : 0);
}

const block = (layer: number, suffix: string) => `blocks.${layer}.${suffix}` as BlockHookName;

export class PathOracle {
  readonly clean: ActivationCache;
  readonly corrupted: ActivationCache;
  readonly #batch: number;
  readonly #pos: number;

  constructor(
    readonly model: HookedGpt2,
    readonly cleanTokens: TokenBatch,
    corruptedTokens: TokenBatch,
  ) {
    const names: HookName[] = ["ln_final.hook_scale", block(0, "hook_resid_pre")];
    for (let layer = 0; layer < model.config.nLayers; layer++) {
      for (const suffix of ["attn.hook_result", "hook_mlp_out", "attn.hook_q", "attn.hook_k", "attn.hook_v"]) names.push(block(layer, suffix));
    }
    this.clean = model.runUntil(cleanTokens, "ln_final.hook_scale", { cache: names });
    this.corrupted = model.runUntil(corruptedTokens, "ln_final.hook_scale", { cache: names });
    this.#batch = cleanTokens.batch;
    this.#pos = cleanTokens.pos;
  }

  /** A node's output in a cache of this oracle's shape, [batch, d_model]. */
  outputIn(cache: ActivationCache, node: NodeAt): Rows {
    const d = this.model.config.dModel;
    const out = new Float32Array(this.#batch * d);
    for (let b = 0; b < this.#batch; b++) out.set(this.#rowOf(cache, node, b), b * d);
    return out;
  }

  #rowOf(cache: ActivationCache, node: NodeAt, b: number): Float32Array {
    const { dModel: d, nHeads } = this.model.config;
    const pos = this.#pos;
    if (node.kind === "embed") return cache.get(block(0, "hook_resid_pre")).data.subarray((b * pos + node.pos) * d, (b * pos + node.pos + 1) * d);
    if (node.kind === "mlp") return cache.get(block(node.layer, "hook_mlp_out")).data.subarray((b * pos + node.pos) * d, (b * pos + node.pos + 1) * d);
    const at = ((b * pos + node.pos) * nHeads + node.head) * d;
    return cache.get(block(node.layer, "attn.hook_result")).data.subarray(at, at + d);
  }

  /**
   * Hooks that set every node's output (embedding rows, each head's hook_result row, each MLP's
   * hook_mlp_out row) to valueOf(node), or leave it to the model where valueOf gives undefined.
   */
  #forceOutputs(valueOf: (node: NodeAt) => Rows | undefined): HookSpec[] {
    const { nLayers, nHeads, dModel: d } = this.model.config;
    const batch = this.#batch;
    const pos = this.#pos;
    const rewrite = (nodeAt: (p: number, h: number) => NodeAt, heads: number) => (activation: Tensor) => {
      const out = activation.clone();
      for (let p = 0; p < pos; p++) {
        for (let h = 0; h < heads; h++) {
          const value = valueOf(nodeAt(p, h));
          if (value === undefined) continue;
          for (let b = 0; b < batch; b++) out.data.set(value.subarray(b * d, (b + 1) * d), ((b * pos + p) * heads + h) * d);
        }
      }
      return out;
    };
    const hooks: HookSpec[] = [[block(0, "hook_resid_pre"), rewrite((p) => ({ kind: "embed", pos: p }), 1)]];
    for (let layer = 0; layer < nLayers; layer++) {
      hooks.push([block(layer, "attn.hook_result"), rewrite((p, head) => ({ kind: "head", layer, head, pos: p }), nHeads)]);
      hooks.push([block(layer, "hook_mlp_out"), rewrite((p) => ({ kind: "mlp", layer, pos: p }), 1)]);
    }
    return hooks;
  }

  /** Resets one head's q, k or v (every position) to the clean run's. */
  #cleanChannel(layer: number, head: number, channel: "q" | "k" | "v"): HookSpec {
    const { nHeads, dHead } = this.model.config;
    const name = block(layer, `attn.hook_${channel}`);
    const clean = this.clean.get(name).data;
    return [name, (activation: Tensor) => {
      const out = activation.clone();
      for (let row = 0; row < this.#batch * this.#pos; row++) {
        const at = (row * nHeads + head) * dHead;
        out.data.set(clean.subarray(at, at + dHead), at);
      }
      return out;
    }];
  }

  /**
   * The output of `node` when every other node's output is `changed`'s value or else clean, and
   * only `channels` of a head see that changed residual stream (the rest read the clean one).
   */
  recompute(node: NodeAt, changed: ReadonlyMap<string, Rows>, channels: readonly Channel[]): Rows {
    if (node.kind === "embed") throw new Error("the embedding is not recomputed");
    const self = key(node);
    const hooks = this.#forceOutputs((other) => {
      const k = key(other);
      return k === self ? undefined : changed.get(k) ?? this.outputIn(this.clean, other);
    });
    if (node.kind === "head") {
      for (const channel of HEAD_CHANNELS) if (!channels.includes(channel)) hooks.push(this.#cleanChannel(node.layer, node.head, channel));
    }
    const stop = block(node.layer, node.kind === "head" ? "attn.hook_result" : "hook_mlp_out");
    const cache = this.model.runUntil(this.cleanTokens, stop, { hooks, cache: [stop] });
    return this.outputIn(cache, node);
  }

  /** Logits [batch, d_vocab] at `logitPosition` with the given node outputs and every other node clean. */
  logits(outputs: ReadonlyMap<string, Rows>, logitPosition: number, freezeFinalScale = false): Tensor {
    const hooks = this.#forceOutputs((node) => outputs.get(key(node)) ?? this.outputIn(this.clean, node));
    if (freezeFinalScale) {
      const scale = this.clean.get("ln_final.hook_scale");
      hooks.push(["ln_final.hook_scale", () => scale.clone()]);
    }
    const { logits } = this.model.run(this.cleanTokens, { hooks, logitPositions: [logitPosition] });
    return logits.reshape([this.#batch, -1]);
  }

  /**
   * The path rule: the sender's change enters only the receivers' named channels; receivers and
   * then continuation nodes (from the receivers' and earlier continuation nodes' changes) are
   * recomputed; the logits see exactly the receivers' and continuation nodes' changes. A sender that
   * is a receiver or continuation node is recomputed like one (its own change goes nowhere else).
   */
  pathOutputs(path: OraclePath): Map<string, Rows> {
    const senderValue = this.outputIn(this.corrupted, path.sender);
    const { receivers } = path;
    if (receivers === "logits") return new Map([[key(path.sender), senderValue]]);
    const fromSender = new Map([[key(path.sender), senderValue]]);
    const continuation = (path.continuation ?? []).map((c) => ("node" in c ? c : { node: c, channels: ["q", "k", "v", "in"] as Channel[] }));
    const recomputed = [...receivers.map((r) => r.node), ...continuation.map((c) => c.node)]
      .filter((node, i, all) => all.findIndex((other) => key(other) === key(node)) === i)
      .sort((a, b) => order(a) - order(b) || a.pos - b.pos);
    const outputs = new Map<string, Rows>();
    for (const node of recomputed) {
      const asReceiver = receivers.find((r) => key(r.node) === key(node));
      const value = asReceiver
        ? this.recompute(node, fromSender, asReceiver.channels)
        : this.recompute(node, outputs, continuation.find((c) => key(c.node) === key(node))!.channels);
      outputs.set(key(node), value);
    }
    return outputs;
  }

  /** The circuit rule: clean prompts, every node outside the circuit forced to its corrupted output. */
  circuitLogits(circuit: readonly NodeAt[], logitPosition: number): Tensor {
    const members = new Set(circuit.map(key));
    const hooks = this.#forceOutputs((node) =>
      node.kind === "embed" || members.has(key(node)) ? undefined : this.outputIn(this.corrupted, node),
    );
    const { logits } = this.model.run(this.cleanTokens, { hooks, logitPositions: [logitPosition] });
    return logits.reshape([this.#batch, -1]);
  }
}
