/**
 * The greater-than report's circuit evaluations and lower circuit against independent computations:
 * hooked forward passes with explicit patches (circuit-oracle, PathOracle), the clean and corrupted
 * runs. The bundled model (circuit heads in layers 2, 4, 5) and the layer-0 fixture model (circuit
 * heads in layer 0, so its lower circuit's grids are empty) at a few prompts, and the tiny model for
 * the lower circuit's grids against PathOracle.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import type { NodeAt } from "../../src/patching/nodes.ts";
import { collectPathActivations } from "../../src/patching/path-activations.ts";
import { type PathPatchingContext, pathPatchingSweep } from "../../src/patching/path-patching.ts";
import { parseCircuitSpec } from "../../src/tasks/greater-than/circuit-spec.ts";
import { GT_POSITIONS, makeGreaterThanDataset } from "../../src/tasks/greater-than/dataset.ts";
import { lowerCircuit, NOT_COMPUTED } from "../../src/tasks/greater-than/lower-circuit.ts";
import { cutoffSharpness, probabilityDifference } from "../../src/tasks/greater-than/metrics.ts";
import { endYearProbabilities } from "../../src/tasks/greater-than/pd-metric.ts";
import { type GreaterThanCircuitReport, reportHasCircuit, runGreaterThanPipeline } from "../../src/tasks/greater-than/pipeline.ts";
import { withCircuit } from "../helpers/greater-than-report.ts";
import { yearTokenIds } from "../../src/tasks/greater-than/years.ts";
import { greaterThanReportHtml, greaterThanSections } from "../../src/viz/greater-than-figures.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { paperCircuitOracleLogits } from "../helpers/circuit-oracle.ts";
import { BUNDLED_MODEL_DIR, LAYER0_MODEL_DIR, TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";
import { PathOracle } from "../helpers/path-oracle.ts";
import { meanLogProb } from "../helpers/log-prob.ts";

const { YY, END } = GT_POSITIONS;
function everyNth(full: ReturnType<typeof makeGreaterThanDataset>, step: number, count: number) {
  const rows = Array.from({ length: count }, (_, i) => i * step);
  const pick = (ids: Int32Array) => Int32Array.from(rows.flatMap((r) => Array.from(ids.subarray(r * 13, (r + 1) * 13))));
  return {
    tokens: { ids: pick(full.tokens.ids), batch: count, pos: 13 },
    corruptedTokens: { ids: pick(full.corruptedTokens.ids), batch: count, pos: 13 },
    yy: Int32Array.from(rows, (r) => full.yy[r]!),
  };
}

const mean = (values: Float64Array) => values.reduce((a, b) => a + b, 0) / values.length;

/** "embed@YY", "MLP2@YY", "L1H3@YY" → the node at YY. */
function nodeAtYy(name: string): NodeAt {
  if (name === "embed@YY") return { kind: "embed", pos: YY };
  const mlp = /^MLP(\d+)@YY$/.exec(name);
  if (mlp) return { kind: "mlp", layer: Number(mlp[1]), pos: YY };
  const [, layer, head] = /^L(\d+)H(\d+)@YY$/.exec(name)!;
  return { kind: "head", layer: Number(layer), head: Number(head), pos: YY };
}

// Each model with the circuit the selection rule finds on the 490 golden prompts (README; 20 prompts find a smaller one).
describe.each([
  ["the bundled model", BUNDLED_MODEL_DIR, "L2H3,L4H1,L5H3,MLP5"],
  ["the layer-0 model", LAYER0_MODEL_DIR, "L0H0,L0H1,L0H3,MLP0,MLP1,MLP3"],
])("circuit evaluations on %s (20 prompts, its 490-prompt circuit given)", (_name, dir, spec) => {
  let model: HookedGpt2;
  // Every 24th of the 490 prompts, so that YY spans 02…98 (the first 20 prompts have YY 02…21, where the corrupted PD is high too).
  const data = everyNth(makeGreaterThanDataset({ n: 490, seed: 5 }), 24, 20);
  let found: GreaterThanCircuitReport;
  const years = yearTokenIds();
  const metrics = (logits: Tensor) => {
    const probs = endYearProbabilities(logits, years);
    return { pd: mean(probabilityDifference(probs, data.yy)), cs: mean(cutoffSharpness(probs, data.yy)) };
  };

  beforeAll(async () => {
    model = new HookedGpt2(await loadGpt2FromDir(dir));
    found = withCircuit(runGreaterThanPipeline({ model, data, circuit: parseCircuitSpec(spec, model.config) }));
  }, 120_000);

  it("paper, reverse and upper + lower equal one hooked forward pass each with explicit patches", () => {
    const evaluations = found.circuit_evaluation;
    expect(evaluations.source).toBe("given");
    const circuit = parseCircuitSpec([...evaluations.heads, ...evaluations.mlps].join(","), model.config);
    const oracle = (reverse: boolean, lower?: NodeAt[]) => {
      const [base, source] = reverse ? [data.tokens, data.corruptedTokens] : [data.corruptedTokens, data.tokens];
      return metrics(paperCircuitOracleLogits(model, base, source, {
        heads: circuit.heads, mlps: circuit.mlps.map((m) => m.layer), position: END, ...(lower ? { lower } : {}),
      }, END));
    };
    const cases = [
      [evaluations.paper, oracle(false)],
      [evaluations.paper_reverse, oracle(true)],
      [evaluations.upper_and_lower!, oracle(false, evaluations.lower.map(nodeAtYy))],
    ] as const;
    expect(evaluations.lower).toContain(found.circuit.heads.every((h) => h.startsWith("L0")) ? "embed@YY" : "MLP0@YY");
    for (const [entry, expected] of cases) {
      expect(entry.prob_diff).toBeCloseTo(expected.pd, 4);
      expect(entry.cutoff_sharpness).toBeCloseTo(expected.cs, 4);
      expect(entry.fraction_of_baseline).toBeCloseTo(entry.prob_diff / found.baseline.prob_diff, 10);
    }
    // The paper's reverse test: corrupting only the circuit's paths loses most of the PD.
    expect(evaluations.paper_reverse.prob_diff).toBeLessThan(0.5 * found.baseline.prob_diff);
    expect(evaluations.paper.fraction_of_baseline).toBeGreaterThan(0.5);
    // The report's circuit number is the stricter rule's evaluation, computed once (its rule is tested in test/patching).
    expect(found.circuit.prob_diff).toBe(evaluations.full_circuit.prob_diff);
    expect(found.circuit.fraction_of_baseline).toBe(evaluations.full_circuit.fraction_of_baseline);
  });

  it("a kvThreshold outside [0, 1] is refused before any work", () => {
    for (const kvThreshold of [-0.1, 1.5, NaN]) {
      expect(() => runGreaterThanPipeline({ model, data, kvThreshold })).toThrow(expect.objectContaining({ code: "bad_option", message: expect.stringContaining(`kvThreshold ${kvThreshold}`) }));
    }
  });

  it("the report's circuit table says the circuit was given, not found", () => {
    const html = greaterThanReportHtml(found, greaterThanSections(found), "bundled");
    expect(html).toContain("Circuit evaluated (heads and MLPs given by --circuit; senders at YY found by path patching)");
    expect(html).not.toContain("Circuit found");
  });

  it("heatmaps: one row per YY, 100 years, rows summing to at most 1", () => {
    const evaluations = found.circuit_evaluation;
    expect(evaluations.yy).toEqual(found.probability_heatmap.yy);
    for (const entry of [evaluations.paper, evaluations.paper_reverse, evaluations.full_circuit]) {
      expect(entry.mean_probability).toHaveLength(evaluations.yy.length);
      for (const row of entry.mean_probability) {
        expect(row).toHaveLength(100);
        const total = row.reduce((a, b) => a + b, 0);
        expect(total).toBeGreaterThan(0);
        expect(total).toBeLessThanOrEqual(1 + 1e-9);
      }
    }
  });

  it("the whole model as the circuit gives the model's PD and heatmap; reversed, the corrupted PD", () => {
    const { nLayers, nHeads } = model.config;
    const all = [
      ...Array.from({ length: nLayers * nHeads }, (_, i) => `L${Math.floor(i / nHeads)}H${i % nHeads}`),
      ...Array.from({ length: nLayers }, (_, l) => `MLP${l}`),
    ].join(",");
    const whole = withCircuit(runGreaterThanPipeline({ model, data, circuit: parseCircuitSpec(all, model.config) }));
    const { paper, paper_reverse: reverse } = whole.circuit_evaluation;
    expect(whole.circuit.source).toBe("given");
    expect(paper.prob_diff).toBeCloseTo(whole.baseline.prob_diff, 5);
    expect(paper.cutoff_sharpness).toBeCloseTo(whole.baseline.cutoff_sharpness, 5);
    expect(reverse.prob_diff).toBeCloseTo(whole.baseline.corrupted_prob_diff, 5);
    paper.mean_probability.forEach((row, r) => row.forEach((p, y) => expect(p).toBeCloseTo(whole.probability_heatmap.mean_probability[r]![y]!, 5)));
  }, 120_000);

  it.runIf(dir === LAYER0_MODEL_DIR)("on layer-0 heads the lower circuit says why its grids are empty and gives the embedding's k and v paths", () => {
    const lower = found.lower_circuit;
    expect(lower.note).toMatch(/layer 0/);
    expect(lower.k!.grid.flat().every((cell) => cell === null)).toBe(true);
    expect(lower.v!.grid.flat().every((cell) => cell === null)).toBe(true);
    expect(lower.mlps_at_yy).toEqual([]);
    expect(lower.v!.embed!).toBeLessThan(-0.1);
  });

  it.runIf(dir === BUNDLED_MODEL_DIR)("on heads in layers ≥ 1 the lower circuit's k and v grids hold senders at YY with an effect", () => {
    const lower = found.lower_circuit;
    expect(lower.note).toBeNull();
    for (const grid of [lower.k!, lower.v!]) {
      expect(grid.grid.flat().some((cell) => typeof cell === "number" && Math.abs(cell) > 0.01 * found.baseline.prob_diff)).toBe(true);
    }
  });
});

describe("lower circuit grids against PathOracle (tiny model, whose layer-1 heads read senders at YY)", () => {
  let model: HookedGpt2;
  let context: PathPatchingContext;
  let oracle: PathOracle;
  let logProb: (logits: Tensor) => number;
  const heads = [{ layer: 1, head: 2 }, { layer: 1, head: 0 }];
  const headNodes = heads.map((h): NodeAt => ({ kind: "head", ...h, pos: END }));
  const circuitMlps: NodeAt[] = [{ kind: "mlp", layer: 1, pos: END }];
  const mlp0AtYy: NodeAt = { kind: "mlp", layer: 0, pos: YY };
  const receivers = (channels: ("k" | "v")[]) => headNodes.map((node) => ({ node, channels }));
  // The k+v grid as the pipeline computes it (head_input_patching's kv).
  let kvGrid: (number | null)[][];
  const tinyTokens = (name: string) => ({ ids: tinyGolden().getInt32(name), batch: 2, pos: 13 });
  const effect = (path: Parameters<PathOracle["pathOutputs"]>[0]) =>
    logProb(oracle.logits(oracle.pathOutputs(path), END)) - logProb(oracle.logits(new Map(), END));
  const lower = (kvThreshold?: number) =>
    lowerCircuit({ context, heads, circuitMlps, yySenders: [mlp0AtYy], embedKv: -1, kvGrid, kvThreshold, yy: YY, end: END, minEffect: 0 });

  beforeAll(async () => {
    model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
    const golden = tinyGolden();
    const cleanTokens = { ids: golden.getInt32("tokens"), batch: 2, pos: 13 };
    const corruptedTokens = { ids: golden.getInt32("corrupted_tokens"), batch: 2, pos: 13 };
    const target = golden.getInt32("year_tokens")[70]!;
    logProb = (logits: Tensor) => meanLogProb(logits, target);
    context = {
      model, clean: collectPathActivations(model, cleanTokens), corrupted: collectPathActivations(model, corruptedTokens),
      logitPosition: END, metric: logProb,
    };
    oracle = new PathOracle(model, cleanTokens, corruptedTokens);
    kvGrid = pathPatchingSweep(context, { senderPosition: YY, receivers: receivers(["k", "v"]), continuation: circuitMlps }).grid;
  });

  it("every k-only, v-only and MLP-at-YY cell equals the oracle at threshold 0; k and v differ from each other", () => {
    const report = lower(0);
    expect(report.note).toBeNull();
    expect(report.kv_threshold).toBe(0);
    expect(report.nodes).toEqual(["embed@YY", "MLP0@YY"]);
    let visible = 0;
    for (const [channel, grid] of [["k", report.k!], ["v", report.v!]] as const) {
      for (let column = 0; column <= model.config.nHeads; column++) {
        const sender: NodeAt = column === model.config.nHeads ? { kind: "mlp", layer: 0, pos: YY } : { kind: "head", layer: 0, head: column, pos: YY };
        const expected = effect({ sender, receivers: receivers([channel]), continuation: circuitMlps });
        expect(grid.grid[0]![column] as number).toBeCloseTo(expected, 5);
        if (Math.abs(expected) > 1e-4) visible++;
      }
      expect(grid.embed!).toBeCloseTo(effect({ sender: { kind: "embed", pos: YY }, receivers: receivers([channel]), continuation: circuitMlps }), 5);
      expect(grid.grid[1]!.every((cell) => cell === null), "layer-1 senders are not upstream of layer-1 heads").toBe(true);
    }
    expect(visible).toBeGreaterThan(2);
    expect(report.k!.grid[0]![4]).not.toBeCloseTo(report.v!.grid[0]![4] as number, 4);
    // Senders at YY → MLP0 at YY, reaching the logits only through the heads' keys and values, then MLP1.
    const [intoMlp] = report.mlps_at_yy;
    expect(intoMlp!.continuation).toEqual(["blocks.1.attn.h2.kv", "blocks.1.attn.h0.kv", "blocks.1.mlp"]);
    for (let head = 0; head < 4; head++) {
      const expected = effect({
        sender: { kind: "head", layer: 0, head, pos: YY },
        receivers: [{ node: mlp0AtYy, channels: ["in"] }],
        continuation: [...headNodes.map((node) => ({ node, channels: ["k", "v"] as ("k" | "v")[] })), ...circuitMlps],
      });
      expect(intoMlp!.grid[0]![head] as number).toBeCloseTo(expected, 5);
    }
  });

  it("the pipeline takes the lower circuit from the circuit option's yySenders instead of selecting it", () => {
    const tokens = tinyTokens("tokens");
    const yy = Int32Array.from([0, 1], (b) => yearTokenIds().indexOf(tokens.ids[b * 13 + YY]!));
    expect(Math.min(...yy)).toBeGreaterThanOrEqual(0);
    const data = { tokens, corruptedTokens: tinyTokens("corrupted_tokens"), yy };
    const circuit = { ...parseCircuitSpec("L1H2,L1H0,MLP1", model.config), yySenders: [{ kind: "mlp" as const, layer: 0 }] };
    const report = runGreaterThanPipeline({ model, data, circuit, kvThreshold: 0, enforceTaskCheck: false });
    if (!reportHasCircuit(report)) throw new Error("expected the given circuit to be evaluated");
    expect(report.circuit.yy_senders).toEqual(["MLP0@YY"]);
    expect(report.circuit_evaluation.lower).toContain("MLP0@YY");
    expect(report.lower_circuit.mlps_at_yy.map((g) => g.receivers)).toEqual([["MLP0.in"]]);
    expect(report.lower_circuit.mlps_at_yy[0]!.grid[0]!.slice(0, 4).every((cell) => typeof cell === "number")).toBe(true);
    const bad = { ...circuit, yySenders: [{ kind: "mlp" as const, layer: 2 }] };
    expect(() => runGreaterThanPipeline({ model, data, circuit: bad })).toThrow(expect.objectContaining({ code: "unknown_component" }));
  });

  it("with a threshold, exactly the senders below it are NOT_COMPUTED and the computed cells equal the full grids", () => {
    const largest = Math.max(...kvGrid.flat().map((v) => Math.abs(v ?? 0)));
    // A threshold between the row's 2nd and 3rd largest |k+v| effects: some cells computed, some not.
    const sorted = kvGrid[0]!.map((v) => Math.abs(v!)).sort((a, b) => b - a);
    const threshold = (sorted[1]! + sorted[2]!) / 2 / largest;
    const report = lower(threshold);
    const full = lower(0);
    expect(report.kv_threshold).toBe(threshold);
    for (const channel of ["k", "v"] as const) {
      const grid = report[channel]!.grid;
      kvGrid.forEach((row, layer) =>
        row.forEach((kv, column) => {
          const cell = grid[layer]![column];
          if (kv === null) expect(cell).toBeNull();
          else if (Math.abs(kv) < threshold * largest) expect(cell).toBe(NOT_COMPUTED);
          else expect(cell).toBe(full[channel]!.grid[layer]![column]);
        }),
      );
      expect(grid[0]!.filter((cell) => cell === NOT_COMPUTED)).toHaveLength(model.config.nHeads + 1 - 2);
      expect(report[channel]!.embed).toBe(full[channel]!.embed);
    }
    expect(report.mlps_at_yy).toEqual(full.mlps_at_yy);
    expect(() => lower(1.5)).toThrow(expect.objectContaining({ code: "bad_option" }));
  });
});

describe("parseCircuitSpec", () => {
  it("splits heads and MLPs, sorted, and refuses what is not a circuit with typed errors", async () => {
    const { config } = await loadGpt2FromDir(BUNDLED_MODEL_DIR);
    expect(parseCircuitSpec(" MLP3,L1H2, L0H3 ,blocks.2.mlp", config)).toEqual({
      heads: [{ kind: "head", layer: 0, head: 3 }, { kind: "head", layer: 1, head: 2 }],
      mlps: [{ kind: "mlp", layer: 2 }, { kind: "mlp", layer: 3 }],
    });
    for (const [spec, code] of [["", "bad_circuit"], [",", "bad_circuit"], ["L0H0,", "bad_circuit"], ["embed", "bad_circuit"], ["MLP1,MLP1", "bad_circuit"], ["MLP6", "unknown_component"], ["L1", "unknown_component"]]) {
      expect(() => parseCircuitSpec(spec!, config), spec).toThrow(expect.objectContaining({ code }));
    }
  });
});
