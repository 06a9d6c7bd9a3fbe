import { beforeAll, describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { PatchingError } from "../../src/patching/patching-error.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { probabilityDifference } from "../../src/tasks/greater-than/metrics.ts";
import { yearTokenIds } from "../../src/tasks/greater-than/years.ts";
import { circuitNodes, parseCircuitSpec } from "../../src/tasks/related/circuit-spec.ts";
import { evaluateFamily, groupPrompts } from "../../src/tasks/related/evaluate-family.ts";
import { RELATED_FAMILIES, type RelatedFamily } from "../../src/tasks/related/families.ts";
import {
  maskedCutoffSharpness, maskedPdMetric, maskedPdSoftmaxMetric, maskedProbabilityDifference,
} from "../../src/tasks/related/masked-metrics.ts";
import { makeFamilyPrompts, type RelatedPrompt } from "../../src/tasks/related/prompts.ts";
import { BUNDLED_MODEL_DIR } from "../helpers/fixtures.ts";

/** Two prompts' year probabilities, mass on a few years only. */
function probs(rows: Record<number, number>[]): Float64Array {
  const out = new Float64Array(rows.length * 100);
  rows.forEach((row, r) => Object.entries(row).forEach(([year, p]) => (out[r * 100 + Number(year)] = p)));
  return out;
}

describe("masked PD and CS", () => {
  const p = probs([{ 10: 0.1, 31: 0.2, 32: 0.3, 33: 0.25, 90: 0.05 }, { 40: 0.5, 41: 0.1, 60: 0.3 }]);
  const yy = [32, 41];

  it('">" is the greater-than PD', () => {
    expect(Array.from(maskedProbabilityDifference(p, yy, ">"))).toEqual(Array.from(probabilityDifference(p, yy)));
    const [first, second] = maskedProbabilityDifference(p, yy, ">");
    expect(first).toBeCloseTo(0.25 + 0.05 - 0.1 - 0.2 - 0.3, 12);
    expect(second).toBeCloseTo(0.3 - 0.5 - 0.1, 12);
  });

  it('"<" counts the years below YY as correct and YY itself as wrong', () => {
    const [first, second] = maskedProbabilityDifference(p, yy, "<");
    expect(first).toBeCloseTo(0.1 + 0.2 - 0.3 - 0.25 - 0.05, 12);
    expect(second).toBeCloseTo(0.5 - 0.1 - 0.3, 12);
  });

  it("CS takes the side of the mask", () => {
    expect(maskedCutoffSharpness(p, yy, ">")[0]).toBeCloseTo(0.25 - 0.2, 12);
    expect(maskedCutoffSharpness(p, yy, "<")[0]).toBeCloseTo(0.2 - 0.25, 12);
    expect(maskedCutoffSharpness(p, yy, "<")[1]).toBeCloseTo(0.5, 12);
  });

  it("the softmax-metric route gives the logits route's number", () => {
    const vocab = 300;
    const yearTokens = Array.from({ length: 100 }, (_, y) => 100 + y);
    const data = Float32Array.from({ length: 2 * vocab }, (_, i) => Math.sin(i * 1.7) * 4);
    const logits = new Tensor(data, [2, vocab]);
    for (const mask of [">", "<"] as const) {
      const direct = maskedPdMetric(yearTokens, yy, mask)(logits);
      const rowLse = [0, 1].map((r) => {
        const row = Array.from(data.subarray(r * vocab, (r + 1) * vocab));
        const max = Math.max(...row);
        return max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      });
      const tokenLogits = new Tensor(Float32Array.from([0, 1].flatMap((r) => yearTokens.map((t) => data[r * vocab + t]!))), [2, 100]);
      const viaLse = maskedPdSoftmaxMetric(yearTokens, yy, mask).fromLogSumExp(Float64Array.from(rowLse), tokenLogits);
      expect(viaLse).toBeCloseTo(direct, 6);
    }
  });
});

describe("circuit specs", () => {
  let model: HookedGpt2;
  beforeAll(async () => {
    model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
  });

  it("places members at each family's END, or at YY when marked", () => {
    const members = parseCircuitSpec("L0H0, L0H1,MLP3 blocks.1.mlp,L0H3@YY", model.config);
    expect(circuitNodes(members, { yy: 8, end: 14 })).toEqual([
      { kind: "head", layer: 0, head: 0, pos: 14 },
      { kind: "head", layer: 0, head: 1, pos: 14 },
      { kind: "mlp", layer: 3, pos: 14 },
      { kind: "mlp", layer: 1, pos: 14 },
      { kind: "head", layer: 0, head: 3, pos: 8 },
    ]);
  });

  it.each([
    ["L9H0", /layer 9 is outside/],
    ["L0H0@XX1", /must be END or YY/],
    ["embed", /embedding is always part/],
    [" , ", /lists no heads or MLPs/],
    ["head0", /unknown component/],
  ])("rejects %j", (spec, message) => {
    expect(() => parseCircuitSpec(spec, model.config)).toThrow(PatchingError);
    expect(() => parseCircuitSpec(spec, model.config)).toThrow(message);
  });
});

describe("a family's PD equals a direct computation from a hooked run's logits", () => {
  let model: HookedGpt2;
  beforeAll(async () => {
    model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
  });

  /** Σ correct p − Σ wrong p over "00"…"99", p the float64 softmax over the whole vocabulary at the last position. */
  function directPd(prompts: readonly RelatedPrompt[], corrupted: boolean, mask: ">" | "<"): number {
    const yearTokens = yearTokenIds();
    let total = 0;
    for (const p of prompts) {
      const tokens = corrupted ? p.corruptedTokens : p.tokens;
      const { logits } = model.run([...tokens]);
      const vocab = logits.shape[2]!;
      const row = Array.from(logits.data.subarray((tokens.length - 1) * vocab, tokens.length * vocab));
      const max = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
      for (let y = 0; y < 100; y++) {
        const prob = Math.exp(row[yearTokens[y]!]! - max) / z;
        total += (mask === ">" ? y > p.yy : y < p.yy) ? prob : -prob;
      }
    }
    return total / prompts.length;
  }

  it.each(["0", "6"])("family %s", (id) => {
    const family = RELATED_FAMILIES.find((f) => f.id === id)!;
    const prompts = makeFamilyPrompts(family, { n: 9, seed: 2 });
    const result = evaluateFamily({ model, prompts, circuit: [], yearTokens: yearTokenIds() });
    expect(result.prob_diff!).toBeCloseTo(directPd(prompts.prompts, false, family.mask), 5);
    expect(result.corrupted_prob_diff!).toBeCloseTo(directPd(prompts.prompts, true, family.mask), 5);
    expect(result.circuit).toBeNull();
    expect(result.path_patching_logits!.flat().every((v) => typeof v === "number")).toBe(true);
  });

  it("prompts of different lengths are patched in groups and weighted by size", () => {
    const family: RelatedFamily = {
      id: "mixed", name: "mixed lengths", mask: "<", centuries: [17], yy: [20, 60],
      template: "<|endoftext|> The {thing} lasted from the year {year} to the year {XX}",
      corrupted: "<|endoftext|> The {thing} lasted from the year {XX}99 to the year {XX}",
      fillers: { thing: ["war", "long journey", "very long journey"] },
    };
    const prompts = makeFamilyPrompts(family, { n: 10, seed: 5 });
    const groups = groupPrompts(prompts.prompts);
    expect(groups.length).toBeGreaterThan(1);
    const circuit = parseCircuitSpec("L0H0,L0H1,MLP0,MLP1,L0H3@YY", model.config);
    const result = evaluateFamily({ model, prompts, circuit, yearTokens: yearTokenIds() });
    expect(result.prompts.groups.map((g) => g.count).reduce((a, b) => a + b, 0)).toBe(10);
    expect(result.prob_diff!).toBeCloseTo(directPd(prompts.prompts, false, "<"), 5);
    // The circuit's PD per group, weighted, from each group evaluated alone.
    const perGroup = groups.map((g) =>
      evaluateFamily({ model, prompts: { ...prompts, prompts: g }, circuit, yearTokens: yearTokenIds() }).circuit!.prob_diff * g.length,
    );
    expect(result.circuit!.prob_diff).toBeCloseTo(perGroup.reduce((a, b) => a + b, 0) / 10, 10);
  });
});
