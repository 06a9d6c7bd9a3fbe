/**
 * evaluateCircuitPaper / evaluateFullCircuit against independent computations: one hooked forward
 * pass with explicit patches (test/helpers/circuit-oracle.ts), the clean and corrupted runs, and
 * evaluateCircuit. Also channel-restricted continuation nodes against PathOracle.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import type { TokenBatch } from "../../src/gpt2/tokens.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import {
  evaluateCircuitPaper, evaluateFullCircuit, type HeadComponent, type MlpComponent, type PaperCircuit,
} from "../../src/patching/circuit-evaluation.ts";
import type { NodeAt } from "../../src/patching/nodes.ts";
import { collectPathActivations } from "../../src/patching/path-activations.ts";
import { evaluateCircuit, pathPatch, type PathPatchingContext } from "../../src/patching/path-patching.ts";
import { GT_POSITIONS } from "../../src/tasks/greater-than/dataset.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { paperCircuitOracleLogits } from "../helpers/circuit-oracle.ts";
import { TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";
import { PathOracle } from "../helpers/path-oracle.ts";
import { meanLogProb } from "../helpers/log-prob.ts";

const { YY, END } = GT_POSITIONS;
const TOL = 2e-5;

let model: HookedGpt2;
let cleanTokens: TokenBatch;
let corruptedTokens: TokenBatch;
let target: number;
/** Two routes to the same metric (mean log-probability of `target`): the softmax statistics, and full logits. */
let contexts: PathPatchingContext[];

function logProb(logits: Tensor): number {
  return meanLogProb(logits, target);
}

const head = (layer: number, h: number): HeadComponent => ({ kind: "head", layer, head: h });
const mlp = (layer: number): MlpComponent => ({ kind: "mlp", layer });
const at = (pos: number, c: HeadComponent | MlpComponent | { kind: "embed" }): NodeAt => ({ ...c, pos }) as NodeAt;

beforeAll(async () => {
  model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
  const golden = tinyGolden();
  cleanTokens = { ids: golden.getInt32("tokens"), batch: 2, pos: 13 };
  corruptedTokens = { ids: golden.getInt32("corrupted_tokens"), batch: 2, pos: 13 };
  target = golden.getInt32("year_tokens")[70]!;
  const clean = collectPathActivations(model, cleanTokens);
  const corrupted = collectPathActivations(model, corruptedTokens);
  const base = { model, clean, corrupted, logitPosition: END };
  contexts = [
    {
      ...base,
      metric: () => Number.NaN,
      softmaxMetric: {
        tokens: [target],
        fromLogSumExp: (lse, picked) => Array.from(lse, (l, r) => picked.data[r]! - l).reduce((a, b) => a + b, 0) / lse.length,
      },
    },
    { ...base, metric: logProb },
  ];
});

function runLogProb(tokens: TokenBatch): number {
  return logProb(model.run(tokens, { logitPositions: [END] }).logits.reshape([tokens.batch, -1]));
}

function expectOracle(circuit: PaperCircuit, reverse: boolean): number {
  const [baseTokens, sourceTokens] = reverse ? [cleanTokens, corruptedTokens] : [corruptedTokens, cleanTokens];
  const expected = logProb(paperCircuitOracleLogits(model, baseTokens, sourceTokens, {
    heads: circuit.heads, mlps: circuit.mlps.map((m) => m.layer), position: circuit.position, lower: circuit.lower,
  }, END));
  for (const context of contexts) {
    const result = evaluateCircuitPaper(context, circuit, { reverse });
    expect(Math.abs(result.metric - expected), `engine ${result.metric} vs oracle ${expected}`).toBeLessThan(TOL * Math.max(1, Math.abs(expected)));
  }
  return expected;
}

describe("evaluateCircuitPaper equals a hooked forward pass with explicit patches (tiny model)", () => {
  const circuits: PaperCircuit[] = [
    { heads: [head(0, 2), head(1, 0)], mlps: [mlp(0), mlp(1)], position: END },
    { heads: [head(1, 2), head(0, 1)], mlps: [mlp(1)], position: END },
    { heads: [head(0, 3)], mlps: [], position: END },
    { heads: [], mlps: [mlp(0), mlp(1)], position: END },
  ];

  it("circuits of heads and MLPs, both directions, differ visibly from the unpatched runs", () => {
    const clean = runLogProb(cleanTokens);
    const corrupted = runLogProb(corruptedTokens);
    expect(Math.abs(clean - corrupted)).toBeGreaterThan(1e-3);
    let moved = 0;
    for (const circuit of circuits) {
      const forward = expectOracle(circuit, false);
      const backward = expectOracle(circuit, true);
      if (Math.abs(forward - corrupted) > 1e-3 && Math.abs(backward - clean) > 1e-3) moved++;
    }
    expect(moved, "circuits whose patches change the metric in both directions").toBeGreaterThanOrEqual(2);
  });

  it("with a lower circuit at YY (embedding, a head and an MLP feeding the heads' keys and values)", () => {
    const lower = [at(YY, { kind: "embed" }), at(YY, head(0, 1)), at(YY, mlp(0))];
    const circuit: PaperCircuit = { heads: [head(1, 2), head(1, 0)], mlps: [mlp(1)], position: END, lower };
    const forward = expectOracle(circuit, false);
    expectOracle(circuit, true);
    expect(Math.abs(forward - runLogProb(corruptedTokens))).toBeGreaterThan(1e-4);
    expectOracle({ heads: [head(0, 1), head(0, 3)], mlps: [mlp(0), mlp(1)], position: END, lower: [at(YY, { kind: "embed" })] }, false);
  });

  it("the whole model gives the clean metric and no circuit the corrupted one; reversed, the other way round", () => {
    const { nLayers, nHeads } = model.config;
    const whole: PaperCircuit = {
      heads: Array.from({ length: nLayers * nHeads }, (_, i) => head(Math.floor(i / nHeads), i % nHeads)),
      mlps: Array.from({ length: nLayers }, (_, l) => mlp(l)),
      position: END,
    };
    const empty: PaperCircuit = { heads: [], mlps: [], position: END };
    const clean = runLogProb(cleanTokens);
    const corrupted = runLogProb(corruptedTokens);
    for (const context of contexts) {
      const close = (value: number, expected: number) => expect(Math.abs(value - expected), `${value} vs ${expected}`).toBeLessThan(TOL * Math.max(1, Math.abs(expected)));
      close(evaluateCircuitPaper(context, whole).metric, clean);
      close(evaluateCircuitPaper(context, empty).metric, corrupted);
      close(evaluateCircuitPaper(context, whole, { reverse: true }).metric, corrupted);
      close(evaluateCircuitPaper(context, empty, { reverse: true }).metric, clean);
      const result = evaluateCircuitPaper(context, whole);
      expect(result.fractionOfBaseline).toBeCloseTo(1, 4);
      expect(result.recovered).toBeCloseTo(1, 4);
    }
  });

  it("tokens: the softmax statistics are the patched logits' (log-probabilities per row equal the oracle's)", () => {
    const circuit: PaperCircuit = { heads: [head(0, 2), head(1, 0)], mlps: [mlp(0), mlp(1)], position: END };
    const logits = paperCircuitOracleLogits(model, corruptedTokens, cleanTokens, { heads: circuit.heads, mlps: [0, 1], position: END }, END);
    const tokens = [target, 3, 500];
    const { softmax } = evaluateCircuitPaper(contexts[1]!, circuit, { tokens });
    const vocab = logits.shape[1]!;
    for (let r = 0; r < 2; r++) {
      const one = logits.reshape([2, vocab]);
      const rowLogProb = (t: number) => {
        const row = one.data.subarray(r * vocab, (r + 1) * vocab);
        let max = -Infinity;
        for (const v of row) max = Math.max(max, v);
        let sum = 0;
        for (const v of row) sum += Math.exp(v - max);
        return row[t]! - max - Math.log(sum);
      };
      tokens.forEach((t, i) => expect(softmax!.tokenLogits.data[r * tokens.length + i]! - softmax!.logSumExp[r]!).toBeCloseTo(rowLogProb(t), 4));
    }
  });

  it("typed errors: duplicates, a lower node at the heads' position, a position outside the prompt", () => {
    const context = contexts[0]!;
    expect(() => evaluateCircuitPaper(context, { heads: [head(0, 1), head(0, 1)], mlps: [], position: END })).toThrow(expect.objectContaining({ code: "duplicate_component" }));
    expect(() => evaluateCircuitPaper(context, { heads: [head(1, 1)], mlps: [], position: END, lower: [at(END, mlp(0))] })).toThrow(expect.objectContaining({ code: "bad_position" }));
    expect(() => evaluateCircuitPaper(context, { heads: [head(1, 1)], mlps: [], position: 13 })).toThrow(expect.objectContaining({ code: "bad_position" }));
    expect(() => evaluateCircuitPaper(context, { heads: [head(9, 1)], mlps: [], position: END })).toThrow(expect.objectContaining({ code: "unknown_component" }));
  });
});

describe("evaluateFullCircuit is evaluateCircuit with options", () => {
  it("same metric as evaluateCircuit; reversed, the whole model gives the corrupted metric", () => {
    const circuit = [at(YY, head(0, 1)), at(YY, mlp(0)), at(END, head(0, 2)), at(END, head(1, 2)), at(END, mlp(0)), at(END, mlp(1))];
    for (const context of contexts) {
      expect(evaluateFullCircuit(context, circuit).metric).toBeCloseTo(evaluateCircuit(context, circuit).metric, 6);
    }
    const everything: NodeAt[] = [];
    for (let pos = 0; pos < 13; pos++) {
      for (let layer = 0; layer < model.config.nLayers; layer++) {
        for (let h = 0; h < model.config.nHeads; h++) everything.push(at(pos, head(layer, h)));
        everything.push(at(pos, mlp(layer)));
      }
    }
    expect(evaluateFullCircuit(contexts[1]!, everything, { reverse: true }).metric).toBeCloseTo(runLogProb(corruptedTokens), 4);
  });
});

describe("continuation nodes restricted to some channels (PathOracle)", () => {
  it("a receiver at YY reaching a head at END through its keys and values only, then an MLP", () => {
    const oracle = new PathOracle(model, cleanTokens, corruptedTokens);
    const unpatched = logProb(oracle.logits(new Map(), END));
    const cases = [
      { sender: at(YY, head(0, 1)), receivers: [{ node: at(YY, mlp(0)), channels: ["in" as const] }], continuation: [{ node: at(END, head(1, 2)), channels: ["k" as const, "v" as const] }, at(END, mlp(1))] },
      { sender: at(YY, head(0, 1)), receivers: [{ node: at(YY, mlp(0)), channels: ["in" as const] }], continuation: [{ node: at(END, head(1, 2)), channels: ["v" as const] }] },
      // Heads at END take a head's change only through keys and values: L0H2@END's change does not reach L1H0's query.
      { sender: at(YY, { kind: "embed" }), receivers: [{ node: at(END, head(0, 2)), channels: ["k" as const] }], continuation: [{ node: at(END, head(1, 0)), channels: ["k" as const, "v" as const] }, at(END, mlp(1))] },
    ];
    for (const path of cases) {
      const expected = logProb(oracle.logits(oracle.pathOutputs(path), END)) - unpatched;
      for (const context of contexts) {
        expect(Math.abs(pathPatch(context, path) - expected)).toBeLessThan(TOL);
      }
    }
    const restricted = logProb(oracle.logits(oracle.pathOutputs(cases[2]!), END));
    const open = logProb(oracle.logits(oracle.pathOutputs({ ...cases[2]!, continuation: [at(END, head(1, 0)), at(END, mlp(1))] }), END));
    expect(Math.abs(restricted - open), "the channel restriction must matter here").toBeGreaterThan(1e-4);
  });
});
