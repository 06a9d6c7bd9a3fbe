/**
 * EAP / EAP-IG edge scores against independent computations on the tiny model: the first-order
 * effect of patching one edge with a scaled corrupted − clean difference (a hooked forward pass that
 * recomputes only the receiver's channel, central differences), EAP-IG at m = 1 against EAP, and the
 * exact edge-level evaluation's identities (every edge: clean metric; none: corrupted; against
 * evaluateCircuit's node-level rule where both apply), plus top-k pruning's connectivity.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { logProbMetric } from "../../src/gpt2/backward/logit-metrics.ts";
import { headInputGradient, mlpInputGradient } from "../../src/gpt2/backward/input-gradients.ts";
import { headInput } from "../../src/gpt2/components/attention-head.ts";
import { mlp } from "../../src/gpt2/components/mlp.ts";
import { blockHook } from "../../src/gpt2/hook-names.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import type { TokenBatch } from "../../src/gpt2/tokens.ts";
import { HookedGpt2, type HookSpec } from "../../src/hooks/hooked-gpt2.ts";
import {
  type EdgeCircuit, edgeCircuitSize, evaluateEdgeCircuit, fullEdgeCircuit, rankEdges, topEdgeCircuit,
} from "../../src/patching/eap-circuit.ts";
import { edgeLabel, isEdge, type Receiver, receiverComponent, senderIndex } from "../../src/patching/eap-graph.ts";
import { edgeAttribution, type EdgeScores } from "../../src/patching/eap-scores.ts";
import type { Component } from "../../src/patching/nodes.ts";
import { collectPathActivations } from "../../src/patching/path-activations.ts";
import { evaluateCircuit, type PathPatchingContext } from "../../src/patching/path-patching.ts";
import { GT_POSITIONS } from "../../src/tasks/greater-than/dataset.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";
import { meanLogProb } from "../helpers/log-prob.ts";

const { END } = GT_POSITIONS;

let model: HookedGpt2;
let clean: TokenBatch;
let corrupted: TokenBatch;
let target: number;
let eap: EdgeScores;
let context: PathPatchingContext;

beforeAll(async () => {
  model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
  const golden = tinyGolden();
  clean = { ids: golden.getInt32("tokens"), batch: 2, pos: 13 };
  corrupted = { ids: golden.getInt32("corrupted_tokens"), batch: 2, pos: 13 };
  target = golden.getInt32("year_tokens")[70]!;
  eap = edgeAttribution(model, { clean, corrupted, metric: logProbMetric(target), positions: range(13) });
  const cleanActs = collectPathActivations(model, clean);
  const corruptedActs = collectPathActivations(model, corrupted);
  context = { model, clean: cleanActs, corrupted: corruptedActs, logitPosition: END, metric: (logits) => meanLogProb(logits, target) };
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function score(scores: EdgeScores, sender: Component, receiver: number): number {
  return scores.scores[senderIndex(scores.graph, sender) * scores.graph.receivers.length + receiver]!;
}

/** corrupted − clean of a sender's output at every position, [batch·pos, d_model], from the model's own hook points. */
function senderDelta(sender: Component): Float32Array {
  const name = sender.kind === "embed" ? blockHook(0, "hook_resid_pre") : sender.kind === "mlp" ? blockHook(sender.layer, "hook_mlp_out") : blockHook(sender.layer, "attn.hook_result");
  const a = model.run(corrupted, { cache: [name] }).cache.get(name);
  const b = model.run(clean, { cache: [name] }).cache.get(name);
  const d = model.config.dModel;
  const rows = clean.batch * clean.pos;
  const out = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) {
      const at = sender.kind === "head" ? (r * model.config.nHeads + sender.head) * d + j : r * d + j;
      out[r * d + j] = a.data[at]! - b.data[at]!;
    }
  }
  return out;
}

/**
 * The clean run's metric with only `receiver`'s channel reading its residual stream plus ε·delta
 * (every position): the receiver's q / k / v (or its MLP, or ln_final's input) recomputed from it.
 */
function edgePatchedMetric(receiver: Receiver, delta: Float32Array, epsilon: number): number {
  const d = model.config.dModel;
  const rows = clean.batch * clean.pos;
  const shifted = (resid: Tensor) => {
    const out = new Float32Array(rows * d);
    for (let i = 0; i < out.length; i++) out[i] = resid.data[i]! + epsilon * delta[i]!;
    return new Tensor(out, [rows, d]);
  };
  const cleanCache = model.run(clean, { cache: true }).cache;
  let hook: HookSpec;
  if (receiver.kind === "head") {
    const input = headInput(model.model, receiver.layer, receiver.head, receiver.channel, shifted(cleanCache.get(blockHook(receiver.layer, "hook_resid_pre"))));
    hook = [blockHook(receiver.layer, `attn.hook_${receiver.channel}`), (act) => {
      const out = act.clone();
      const { nHeads, dHead } = model.config;
      for (let r = 0; r < rows; r++) out.data.set(input.data.subarray(r * dHead, (r + 1) * dHead), (r * nHeads + receiver.head) * dHead);
      return out;
    }];
  } else if (receiver.kind === "mlp") {
    const out = mlp(model.model, receiver.layer, shifted(cleanCache.get(blockHook(receiver.layer, "hook_resid_mid"))));
    hook = [blockHook(receiver.layer, "hook_mlp_out"), (act) => new Tensor(out.data, act.shape)];
  } else {
    const out = shifted(cleanCache.get(blockHook(model.config.nLayers - 1, "hook_resid_post")));
    hook = [blockHook(model.config.nLayers - 1, "hook_resid_post"), (act) => new Tensor(out.data, act.shape)];
  }
  return meanLogProb(model.run(clean, { hooks: [hook], logitPositions: [END] }).logits.reshape([clean.batch, -1]), target);
}

describe("EAP scores are the first-order effect of patching one edge", () => {
  const cases: [Component, (r: Receiver) => boolean][] = [
    [{ kind: "head", layer: 0, head: 1 }, (r) => r.kind === "head" && r.layer === 1 && r.head === 2 && r.channel === "k"],
    [{ kind: "head", layer: 0, head: 3 }, (r) => r.kind === "head" && r.layer === 1 && r.head === 0 && r.channel === "q"],
    [{ kind: "embed" }, (r) => r.kind === "head" && r.layer === 0 && r.head === 1 && r.channel === "v"],
    [{ kind: "mlp", layer: 0 }, (r) => r.kind === "mlp" && r.layer === 1],
    [{ kind: "head", layer: 1, head: 1 }, (r) => r.kind === "logits"],
    [{ kind: "head", layer: 1, head: 3 }, (r) => r.kind === "mlp" && r.layer === 1],
  ];
  for (const [sender, pick] of cases) {
    it(`${JSON.stringify(sender)}`, () => {
      const receiver = eap.graph.receivers.findIndex(pick);
      const r = eap.graph.receivers[receiver]!;
      const delta = senderDelta(sender);
      const eps = 5e-2;
      const derivative = (edgePatchedMetric(r, delta, eps) - edgePatchedMetric(r, delta, -eps)) / (2 * eps);
      const value = score(eap, sender, receiver);
      expect(Math.abs(derivative)).toBeGreaterThan(1e-4);
      expect(Math.abs(value - derivative), `${edgeLabel(eap.graph, senderIndex(eap.graph, sender), receiver)}: EAP ${value} vs d/dε ${derivative}`)
        .toBeLessThan(1e-2 * Math.abs(derivative) + 1e-5);
    });
  }

  it("a sender downstream of its receiver is not an edge (NaN)", () => {
    const receiver = eap.graph.receivers.findIndex((r) => r.kind === "head" && r.layer === 0);
    expect(score(eap, { kind: "head", layer: 1, head: 0 }, receiver)).toBeNaN();
    expect(score(eap, { kind: "head", layer: 0, head: 0 }, receiver)).toBeNaN();
  });
});

describe("EAP scores are dot products of the activation difference and the receiver's input gradient", () => {
  it("by the backward's own receiver gradients over whole [batch, pos] tensors", () => {
    const { grads, cache } = model.runWithGradients(clean, {
      metric: logProbMetric(target), grads: [blockHook(1, "attn.hook_k"), blockHook(1, "mlp.hook_pre")],
      cache: [blockHook(1, "ln1.hook_normalized"), blockHook(1, "ln1.hook_scale"), blockHook(1, "ln2.hook_normalized"), blockHook(1, "ln2.hook_scale")],
    });
    const ln = (kind: "ln1" | "ln2") => ({ normalized: cache.get(blockHook(1, `${kind}.hook_normalized`)), scale: cache.get(blockHook(1, `${kind}.hook_scale`)) });
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((acc, v, i) => acc + v * b[i]!, 0);
    const cases: [Component, Receiver, Float32Array][] = [
      [{ kind: "head", layer: 0, head: 1 }, { kind: "head", layer: 1, head: 2, channel: "k" }, headInputGradient(model.model, 1, 2, "k", grads.get(blockHook(1, "attn.hook_k")), ln("ln1")).data],
      [{ kind: "embed" }, { kind: "head", layer: 1, head: 2, channel: "k" }, headInputGradient(model.model, 1, 2, "k", grads.get(blockHook(1, "attn.hook_k")), ln("ln1")).data],
      [{ kind: "head", layer: 1, head: 3 }, { kind: "mlp", layer: 1, channel: "in" }, mlpInputGradient(model.model, 1, grads.get(blockHook(1, "mlp.hook_pre")), ln("ln2")).data],
    ];
    for (const [sender, receiver, gradient] of cases) {
      const r = eap.graph.receivers.findIndex((x) => JSON.stringify(x) === JSON.stringify(receiver));
      const expected = dot(senderDelta(sender), gradient);
      expect(Math.abs(expected)).toBeGreaterThan(1e-5);
      expect(score(eap, sender, r)).toBeCloseTo(expected, 5);
    }
  });
});

describe("EAP-IG", () => {
  it("with one step equals EAP (the one step is the clean input)", () => {
    const ig = edgeAttribution(model, { clean, corrupted, metric: logProbMetric(target), method: "eap-ig", steps: 1, positions: range(13) });
    expect(ig.steps).toBe(1);
    ig.scores.forEach((v, i) => (Number.isNaN(v) ? expect(eap.scores[i]).toBeNaN() : expect(v).toBeCloseTo(eap.scores[i]!, 6)));
  });

  it("with several steps differs from EAP, and batches of prompts add up to the whole batch", () => {
    const whole = edgeAttribution(model, { clean, corrupted, metric: logProbMetric(target), method: "eap-ig", steps: 3 });
    const batched = edgeAttribution(model, {
      clean, corrupted, method: "eap-ig", steps: 3, batchSize: 1, metric: () => logProbMetric(target),
    });
    let differs = 0;
    whole.scores.forEach((v, i) => {
      if (Number.isNaN(v)) return;
      expect(batched.scores[i]!).toBeCloseTo(v, 5);
      if (Math.abs(v - eap.scores[i]!) > 1e-4) differs++;
    });
    expect(differs).toBeGreaterThan(0);
  });

  it("rejects bad steps and positions", () => {
    expect(() => edgeAttribution(model, { clean, corrupted, metric: logProbMetric(target), method: "eap-ig", steps: 0 })).toThrow(/steps must be a positive integer/);
    expect(() => edgeAttribution(model, { clean, corrupted, metric: logProbMetric(target), positions: [13] })).toThrow(/position 13 is outside/);
  });
});

describe("exact edge-level circuit evaluation", () => {
  it("every edge gives the clean metric and no edge the corrupted one", () => {
    const full = evaluateEdgeCircuit(context, fullEdgeCircuit(eap.graph));
    expect(full.metric).toBeCloseTo(full.clean, 4);
    const empty: EdgeCircuit = { graph: eap.graph, inCircuit: new Uint8Array(eap.scores.length) };
    const none = evaluateEdgeCircuit(context, empty);
    expect(none.metric).toBeCloseTo(none.corrupted, 5);
    expect(Math.abs(full.clean - full.corrupted)).toBeGreaterThan(1e-3);
  });

  it("the circuit of every edge among a set of nodes equals evaluateCircuit's node-level rule", () => {
    const members: Component[] = [{ kind: "head", layer: 0, head: 1 }, { kind: "mlp", layer: 0 }, { kind: "head", layer: 1, head: 2 }];
    const inNodes = (c: Component | null) => c === null || c.kind === "embed" || members.some((m) => JSON.stringify(m) === JSON.stringify(c));
    const circuit = fullEdgeCircuit(eap.graph);
    eap.graph.senders.forEach((s, i) => eap.graph.receivers.forEach((r, j) => {
      if (!inNodes(s) || !inNodes(receiverComponent(r))) circuit.inCircuit[i * eap.graph.receivers.length + j] = 0;
    }));
    const nodes = members.flatMap((m) => range(13).map((pos) => ({ ...m, pos })));
    expect(evaluateEdgeCircuit(context, circuit).metric).toBeCloseTo(evaluateCircuit(context, nodes).metric, 5);
  });
});

describe("top-k circuits", () => {
  it("keep only edges on a path from the embedding to the logits", () => {
    const ranked = rankEdges(eap);
    for (const k of [1, 5, 20, 60, ranked.length]) {
      const circuit = topEdgeCircuit(eap, k, ranked);
      const { graph, inCircuit } = circuit;
      const V = graph.receivers.length;
      expect(edgeCircuitSize(circuit)).toBeLessThanOrEqual(k);
      const kept = ranked.slice(0, k);
      inCircuit.forEach((v, i) => v && expect(kept).toContain(i));
      // Brute force: a sender is fed when it is the embedding or some in-circuit edge into it comes from a fed sender.
      const feeds = (s: number): boolean => s === 0 || graph.receivers.some((r, j) => {
        const c = receiverComponent(r);
        return c !== null && senderIndex(graph, c) === s && graph.senders.some((_, u) => inCircuit[u * V + j] === 1 && feeds(u));
      });
      const reaches = (s: number): boolean => graph.receivers.some((r, j) => {
        if (inCircuit[s * V + j] !== 1) return false;
        const c = receiverComponent(r);
        return c === null || reaches(senderIndex(graph, c));
      });
      inCircuit.forEach((v, i) => {
        if (!v) return;
        const u = Math.floor(i / V);
        const c = receiverComponent(graph.receivers[i % V]!);
        expect(isEdge(graph.senders[u]!, graph.receivers[i % V]!)).toBe(true);
        expect(feeds(u), edgeLabel(graph, u, i % V)).toBe(true);
        expect(c === null || reaches(senderIndex(graph, c)), edgeLabel(graph, u, i % V)).toBe(true);
      });
      if (k === ranked.length) expect(edgeCircuitSize(circuit)).toBe(ranked.length);
    }
  });
});
