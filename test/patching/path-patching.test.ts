import { beforeAll, describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { allComponents, type NodeAt } from "../../src/patching/nodes.ts";
import { collectPathActivations, type PathActivations } from "../../src/patching/path-activations.ts";
import {
  baselineMetric, evaluateCircuit, evaluatePaths, pathPatch, pathPatchingSweep, type PathPatchingContext,
} from "../../src/patching/path-patching.ts";
import { parseComponent } from "../../src/patching/nodes.ts";
import { Gpt2LensError } from "../../src/errors.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";
import { expectClose } from "../helpers/compare.ts";
import { type PathGraph, patchedFinalResidual } from "../../src/patching/path-engine.ts";
import { probabilityDifferenceMetric, probabilityDifferenceSoftmaxMetric } from "../../src/tasks/greater-than/pd-metric.ts";

const END = 12;
let model: HookedGpt2;
let clean: PathActivations;
let corrupted: PathActivations;
let yearTokens: Int32Array;

function tokens(name: string) {
  const golden = tinyGolden();
  return { ids: golden.getInt32(name), batch: 2, pos: 13 };
}

/** Mean logit difference between years 50..99 and 00..49: a linear functional of the logits. */
function yearLogitDiff(logits: Tensor): number {
  const [rows, vocab] = logits.shape as [number, number];
  let total = 0;
  for (let r = 0; r < rows; r++) {
    for (let y = 0; y < 100; y++) total += (y >= 50 ? 1 : -1) * logits.data[r * vocab + yearTokens[y]!]!;
  }
  return total / rows / 50;
}

function context(overrides: Partial<PathPatchingContext> = {}): PathPatchingContext {
  return { model, clean, corrupted, logitPosition: END, metric: yearLogitDiff, ...overrides };
}

beforeAll(async () => {
  model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
  clean = collectPathActivations(model, tokens("tokens"));
  corrupted = collectPathActivations(model, tokens("corrupted_tokens"));
  yearTokens = tinyGolden().getInt32("year_tokens");
});

/** Senders straight into the final residual stream, nothing recomputed. */
const directGraph: PathGraph = {
  senders: [], recomputed: [], senderEdge: () => false, senderToLogits: () => true, edge: () => false, toLogits: () => false,
};

describe("path patching on the tiny model", () => {
  it("baselines equal the metric of the model's own logits", () => {
    const { logits } = model.run(tokens("tokens"), { logitPositions: [END] });
    expect(baselineMetric(context(), clean)).toBeCloseTo(yearLogitDiff(logits.reshape([2, -1])), 4);
  });

  it("computes an unpatched run's metric once per context and run, shared by sweeps, paths and circuits", () => {
    let calls = 0;
    const counting = context({ metric: (logits) => (calls++, yearLogitDiff(logits)) });
    const first = pathPatchingSweep(counting, { senderPosition: END, receivers: "logits" });
    const senders = first.grid.flat().filter((v) => v !== null).length;
    expect(calls).toBe(senders + 1);
    const again = pathPatchingSweep(counting, { senderPosition: END, receivers: "logits" });
    expect(again.grid).toEqual(first.grid);
    expect(again.baseline).toBe(first.baseline);
    expect(calls).toBe(2 * senders + 1);
    pathPatch(counting, { sender: { kind: "mlp", layer: 0, pos: END }, receivers: "logits" });
    expect(calls).toBe(2 * senders + 2);
    const evaluation = evaluateCircuit(counting, []);
    expect(calls).toBe(2 * senders + 4); // the circuit's run and the corrupted baseline
    expect(evaluation.clean).toBe(first.baseline);
    // Another context over the same runs computes its own.
    expect(baselineMetric(context(), clean)).toBe(first.baseline);
  });

  it("with corrupted = clean every path effect is 0", () => {
    const same = context({ corrupted: clean });
    for (const receivers of ["logits", [{ node: { kind: "mlp", layer: 1, pos: END }, channels: ["in"] }]] as const) {
      const { grid } = pathPatchingSweep(same, { senderPosition: END, receivers });
      for (const value of grid.flat()) if (value !== null) expect(value).toBe(0);
    }
  });

  it("sender → logits with ln_final frozen is linear: single effects add up to all senders at once", () => {
    const frozen = context({ freezeFinalScale: true });
    const { grid } = pathPatchingSweep(frozen, { senderPosition: END, receivers: "logits" });
    const sum = grid.flat().reduce<number>((acc, v) => acc + (v ?? 0), 0);
    const senders: NodeAt[] = allComponents(model.config).map((c) => ({ ...c, pos: END }));
    const together =
      evaluatePaths(frozen, { ...directGraph, senders }, clean, corrupted) -
      baselineMetric(frozen, clean);
    expect(Math.abs(together)).toBeGreaterThan(1e-3);
    expect(Math.abs(sum - together)).toBeLessThan(1e-4 * Math.max(1, Math.abs(together)));
  });

  it("evaluating the whole model as the circuit recovers 100 % and reproduces the clean logits", () => {
    const nodes: NodeAt[] = [];
    for (let pos = 0; pos < clean.pos; pos++) {
      for (const component of allComponents(model.config)) nodes.push({ ...component, pos });
    }
    const result = evaluateCircuit(context(), nodes);
    expect(result.recovered).toBeCloseTo(1, 5);
    // Denoising every node at once: the corrupted run's final residual becomes the clean one.
    const embeds: NodeAt[] = Array.from({ length: clean.pos }, (_, pos) => ({ kind: "embed", pos }));
    const final = patchedFinalResidual(
      model.model, corrupted, clean, { senders: embeds, recomputed: nodes, senderEdge: () => true, senderToLogits: () => true, edge: () => true, toLogits: () => true }, END,
    );
    expectClose(final.data, clean.finalResidAt(END).data, 1e-5, "final residual");
    expect(result.metric).toBeCloseTo(result.clean, 4);
    expect(evaluateCircuit(context(), []).recovered).toBeLessThan(0.999);
  });

  it("a path through an MLP differs from the direct path and is null where the sender is downstream", () => {
    const { grid } = pathPatchingSweep(context(), {
      senderPosition: END,
      receivers: [{ node: { kind: "mlp", layer: 0, pos: END }, channels: ["in"] }],
    });
    expect(grid[1]!.every((v) => v === null)).toBe(true);
    const nHeads = model.config.nHeads;
    expect(grid[0]!.slice(0, nHeads).every((v) => v !== null && v !== 0)).toBe(true);
    expect(grid[0]![nHeads]).toBeNull();
  });

  it("rejects a clean/corrupted shape mismatch and out-of-range positions", () => {
    const other = collectPathActivations(model, { ids: tokens("tokens").ids.slice(0, 13), batch: 1, pos: 13 });
    expect(() => pathPatchingSweep(context({ corrupted: other }), { senderPosition: END, receivers: "logits" })).toThrow(
      /differ in shape/,
    );
    expect(() => pathPatchingSweep(context(), { senderPosition: 40, receivers: "logits" })).toThrow(/outside/);
  });

  it("sender → logits equals a forward pass with the sender's change added to the final residual stream", () => {
    const layer = 0, head = 2;
    const value = pathPatch(context(), { sender: { kind: "head", layer, head, pos: END }, receivers: "logits" });
    const resultName = `blocks.${layer}.attn.hook_result` as const;
    const cleanResult = model.run(tokens("tokens"), { cache: [resultName] }).cache.get(resultName);
    const corruptedResult = model.run(tokens("corrupted_tokens"), { cache: [resultName] }).cache.get(resultName);
    const [, pos, nHeads, d] = cleanResult.shape as [number, number, number, number];
    const last = `blocks.${model.config.nLayers - 1}.hook_resid_post` as const;
    const { logits } = model.run(tokens("tokens"), {
      logitPositions: [END],
      hooks: [[last, (resid) => {
        const out = resid.clone();
        for (let b = 0; b < 2; b++) {
          for (let j = 0; j < d; j++) {
            const at = ((b * pos + END) * nHeads + head) * d + j;
            out.data[(b * pos + END) * d + j]! += corruptedResult.data[at]! - cleanResult.data[at]!;
          }
        }
        return out;
      }]],
    });
    const expected = yearLogitDiff(logits.reshape([2, -1])) - baselineMetric(context(), clean);
    expect(Math.abs(expected)).toBeGreaterThan(1e-4);
    expect(value).toBeCloseTo(expected, 4);
    const { grid } = pathPatchingSweep(context(), { senderPosition: END, receivers: "logits" });
    expect(grid[layer]![head]).toBeCloseTo(value, 6);
  });

  it("rejects a sender that is not upstream of its receiver and unknown components", () => {
    const receivers = [{ node: { kind: "mlp" as const, layer: 0, pos: END }, channels: ["in" as const] }];
    expect(() => pathPatch(context(), { sender: { kind: "mlp", layer: 1, pos: END }, receivers })).toThrow(/not upstream/);
    expect(() => pathPatch(context(), { sender: { kind: "head", layer: 0, head: 1, pos: 3 }, receivers })).toThrow(/not upstream/);
    expect(() => pathPatch(context(), { sender: { kind: "head", layer: 0, head: 9, pos: END }, receivers })).toThrow(Gpt2LensError);
    expect(() => parseComponent("L7H0", model.config)).toThrow(/layer 7 is outside/);
    expect(() => parseComponent("attn5", model.config)).toThrow(/unknown component "attn5"/);
  });

  it("metricTokens computes only the tokens' logits and gives the same sweep", () => {
    const tokenMetric = (logits: Tensor) => {
      const [rows, count] = logits.shape as [number, number];
      let total = 0;
      for (let r = 0; r < rows; r++) for (let y = 0; y < count; y++) total += (y >= 50 ? 1 : -1) * logits.data[r * count + y]!;
      return total / rows / 50;
    };
    const receivers = [{ node: { kind: "mlp" as const, layer: 1, pos: END }, channels: ["in" as const] }];
    const full = pathPatchingSweep(context(), { senderPosition: END, receivers });
    const restricted = pathPatchingSweep(context({ metric: tokenMetric, metricTokens: Array.from(yearTokens) }), {
      senderPosition: END,
      receivers,
    });
    expect(restricted.baseline).toBeCloseTo(full.baseline, 4);
    full.grid.flat().forEach((v, i) => {
      const r = restricted.grid.flat()[i];
      if (v === null) expect(r).toBeNull();
      else expect(r!).toBeCloseTo(v, 5);
    });
    expect(() => pathPatchingSweep(context({ metricTokens: [60000] }), { senderPosition: END, receivers: "logits" })).toThrow(
      /outside the vocabulary/,
    );
  });

  it("softmaxMetric (log-sum-exp + year logits, no full logits held) gives the PD sweep of the full logits", () => {
    const yy = [30, 71];
    const years = Array.from(yearTokens);
    const full = context({ metric: probabilityDifferenceMetric(years, yy) });
    const streamed = context({ metric: () => Number.NaN, softmaxMetric: probabilityDifferenceSoftmaxMetric(years, yy) });
    for (const receivers of ["logits", [{ node: { kind: "mlp" as const, layer: 1, pos: END }, channels: ["in" as const] }]] as const) {
      const a = pathPatchingSweep(full, { senderPosition: END, receivers });
      const b = pathPatchingSweep(streamed, { senderPosition: END, receivers });
      expect(b.baseline).toBe(a.baseline);
      // Heads → logits go through the heads' output space (same values up to rounding); the rest is identical.
      if (receivers === "logits") a.grid.flat().forEach((v, i) => expect(b.grid.flat()[i]!).toBeCloseTo(v!, 7));
      else expect(b.grid).toEqual(a.grid);
      expect(a.grid.flat().some((v) => v !== null && v !== 0)).toBe(true);
    }
    expect(() =>
      pathPatchingSweep(context({ softmaxMetric: { tokens: [-1], fromLogSumExp: () => 0 } }), { senderPosition: END, receivers: "logits" }),
    ).toThrow(/outside the vocabulary/);
  });
});

describe("head → logits sweeps through the heads' output space", () => {
  it("equal the direct route (full residual through ln_final and W_U) on the bundled model", async () => {
    const { BUNDLED_MODEL_DIR } = await import("../helpers/fixtures.ts");
    const { makeGreaterThanDataset, GT_POSITIONS } = await import("../../src/tasks/greater-than/dataset.ts");
    const { yearTokenIds } = await import("../../src/tasks/greater-than/years.ts");
    const { evaluatePaths } = await import("../../src/patching/path-patching.ts");
    const bundled = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
    const data = makeGreaterThanDataset({ n: 12, seed: 2 });
    const cleanRun = collectPathActivations(bundled, data.tokens);
    const corruptedRun = collectPathActivations(bundled, data.corruptedTokens);
    const years = yearTokenIds();
    const ctx: PathPatchingContext = {
      model: bundled, clean: cleanRun, corrupted: corruptedRun, logitPosition: GT_POSITIONS.END,
      metric: probabilityDifferenceMetric(years, data.yy), softmaxMetric: probabilityDifferenceSoftmaxMetric(years, data.yy),
    };
    const sweep = pathPatchingSweep(ctx, { senderPosition: GT_POSITIONS.END, receivers: "logits" });
    // The direct route, sender by sender, with the full logits and the plain metric.
    const direct = { ...ctx, softmaxMetric: undefined };
    const { nLayers, nHeads } = bundled.config;
    let largest = 0;
    for (let layer = 0; layer < nLayers; layer++) {
      for (let head = 0; head < nHeads; head++) {
        const sender: NodeAt = { kind: "head", layer, head, pos: GT_POSITIONS.END };
        const graph = { ...directGraph, senders: [sender] };
        const expected = evaluatePaths(direct, graph, cleanRun, corruptedRun) - sweep.baseline;
        expect(sweep.grid[layer]![head]!).toBeCloseTo(expected, 6);
        largest = Math.max(largest, Math.abs(expected));
      }
    }
    expect(largest).toBeGreaterThan(1e-3);
    expect(() => pathPatchingSweep(ctx, { senderPosition: GT_POSITIONS.END, receivers: "logits", senders: [{ kind: "head", layer: 0, head: 99 }] })).toThrow(
      /head 99 is outside/,
    );
  });
});
