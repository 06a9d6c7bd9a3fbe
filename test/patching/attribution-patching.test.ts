/**
 * Attribution patching against independent computations: each cell is the dot product of the
 * activation difference and the gradient, summed here by hand over the activation's named axes
 * (from runWithGradients' gradients and two hooked caches); and exact patches, written here as
 * forward hooks that move one cell's slice a fraction ε of the way to the other prompt's value,
 * change the metric by ε·(the cell) to first order (their ratio → 1 as ε → 0), while at ε = 1 the
 * same hooks reproduce activationPatching's value. Shapes, axes, labels and errors match
 * activationPatching's for every component and grouping.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { logitDifferenceMetric, type LogitMetric, logProbMetric } from "../../src/gpt2/backward/logit-metrics.ts";
import { blockHook, type BlockHookSuffix } from "../../src/gpt2/hook-names.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import type { TokenBatch } from "../../src/gpt2/tokens.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { activationPatching, type PatchComponent, type PatchGrouping, supportedPatches } from "../../src/patching/activation-patching.ts";
import { attributionPatching, type AttributionPatchingOptions, patchingMetricOf } from "../../src/patching/attribution-patching.ts";
import { PatchingError } from "../../src/patching/patching-error.ts";
import { JUPYTER_DISPLAY } from "../../src/patching/patching-result.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { expectClose } from "../helpers/compare.ts";
import { TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";
import { thrownBy } from "../helpers/thrown.ts";

const SUFFIX: Record<PatchComponent, BlockHookSuffix> = {
  resid_pre: "hook_resid_pre", resid_mid: "hook_resid_mid", resid_post: "hook_resid_post", attn_out: "hook_attn_out",
  mlp_out: "hook_mlp_out", z: "attn.hook_z", q: "attn.hook_q", k: "attn.hook_k", v: "attn.hook_v", pattern: "attn.hook_pattern",
};

/** The activation's axes, as TransformerLens names them. */
const axesOf = (component: PatchComponent): string[] =>
  component === "pattern" ? ["batch", "head", "query", "key"]
    : ["z", "q", "k", "v"].includes(component) ? ["batch", "pos", "head", "d_head"] : ["batch", "pos", "d_model"];

/** The grid axes a grouping keeps (besides the layer); every other axis of the activation is summed. */
const keptBy = (by: PatchGrouping): string[] => (by === "layer_pos" ? ["pos"] : by === "layer_head" ? ["head"] : ["pos", "head"]);

const PATCHES = supportedPatches().map((s) => s.split(" by ") as [PatchComponent, PatchGrouping]);

let model: HookedGpt2;
let clean: TokenBatch;
let corrupted: TokenBatch;
let metric: LogitMetric;

beforeAll(async () => {
  model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
  clean = { ids: tinyGolden().getInt32("tokens"), batch: 2, pos: 13 };
  corrupted = { ids: tinyGolden().getInt32("corrupted_tokens"), batch: 2, pos: 13 };
  const years = tinyGolden().getInt32("year_tokens");
  metric = logitDifferenceMetric(years[60]!, years[40]!);
});

/** Multi-index of flat element i of a tensor of `shape`. */
function unravel(i: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index[axis] = i % shape[axis]!;
    i = Math.floor(i / shape[axis]!);
  }
  return index;
}

/** Σ over every element of `t` of f(element index), grouped by the kept axes' indices → Map key "i,j". */
function sumByKeptAxes(shape: readonly number[], axes: readonly string[], kept: readonly string[], f: (i: number) => number): Map<string, number> {
  const sums = new Map<string, number>();
  const size = shape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < size; i++) {
    const index = unravel(i, shape);
    const key = kept.map((name) => index[axes.indexOf(name)]).join(",");
    sums.set(key, (sums.get(key) ?? 0) + f(i));
  }
  return sums;
}

function options<C extends PatchComponent>(component: C, by: PatchGrouping, extra: Partial<Omit<AttributionPatchingOptions, "component" | "by">> = {}): AttributionPatchingOptions<C> {
  return { component, by: by as never, clean, corrupted, metric, ...extra };
}

describe("each cell is (source − base activation) · ∂metric/∂activation at the base run, summed over the grouped axes", () => {
  const cases = PATCHES.flatMap(([c, b]) => (["noising", "denoising"] as const).map((d) => [c, b, d] as const));
  it.each(cases)("%s by %s, %s", (component, by, direction) => {
    const metricHere = component === "k" ? logProbMetric(262, { positions: "all" }) : metric;
    const result = attributionPatching(model, options(component, by, { direction, metric: metricHere }));
    const [base, source] = direction === "noising" ? [clean, corrupted] : [corrupted, clean];
    const names = Array.from({ length: model.config.nLayers }, (_, l) => blockHook(l, SUFFIX[component]));
    const gradientRun = model.runWithGradients(base, { metric: metricHere, grads: names, cache: names });
    const sourceCache = model.run(source, { cache: names }).cache;
    const kept = keptBy(by);
    const actual: number[] = [], expectedCells: number[] = [];
    for (let layer = 0; layer < model.config.nLayers; layer++) {
      const to = gradientRun.cache.get(names[layer]!);
      const from = sourceCache.get(names[layer]!).data;
      const grad = gradientRun.grads.get(names[layer]!).data;
      const expected = sumByKeptAxes(to.shape, axesOf(component), kept, (i) => (from[i]! - to.data[i]!) * grad[i]!);
      for (const [key, value] of expected) {
        actual.push(result.at(layer, ...key.split(",").map(Number)) as number);
        expectedCells.push(value);
      }
    }
    expect(actual).toHaveLength(result.values.size);
    expect(Math.max(...expectedCells.map(Math.abs)), "some cell is non-zero").toBeGreaterThan(1e-4);
    expectClose(actual, expectedCells, 1e-5, `${component} by ${by}, ${direction}`);
    expect(result.base).toBe(gradientRun.value);
  });
});

/**
 * The metric when the base run's `component` at `layer` has the cell's slice moved a fraction ε of
 * the way to the source run's value (ε = 1: the exact activation patch).
 */
function patchedMetric(component: PatchComponent, by: PatchGrouping, cell: number[], epsilon: number, base: TokenBatch, source: Tensor): number {
  const [layer, ...rest] = cell as [number, ...number[]];
  const axes = axesOf(component);
  const kept = keptBy(by);
  const name = blockHook(layer, SUFFIX[component]);
  const move = (activation: Tensor): void => {
    for (let i = 0; i < activation.size; i++) {
      const index = unravel(i, activation.shape);
      if (kept.every((axis, j) => index[axes.indexOf(axis)] === rest[j])) {
        activation.data[i] = activation.data[i]! + epsilon * (source.data[i]! - activation.data[i]!);
      }
    }
  };
  return model.runWithGradients(base, { metric, hooks: [[name, move]] }).value;
}

describe("attribution patching is exact activation patching to first order", () => {
  it.each(PATCHES)("%s by %s: the metric's central difference over ε-patches → the cell as ε → 0; ε = 1 is activationPatching's value", (component, by) => {
    const result = attributionPatching(model, options(component, by));
    const adapted = patchingMetricOf(model, metric, clean);
    const exact = activationPatching(model, { ...options(component, by), direction: "noising", ...adapted });
    const baseValue = model.runWithGradients(clean, { metric }).value;
    // The two cells of largest estimate: where the first-order term dominates float32 rounding.
    const order = Array.from(result.values.data.keys()).sort((a, b) => Math.abs(result.values.data[b]!) - Math.abs(result.values.data[a]!));
    for (const flat of order.slice(0, 2)) {
      const cell = unravel(flat, result.gridShape);
      const estimate = result.values.data[flat]!;
      const layer = cell[0]!;
      const source = model.run(corrupted, { cache: [blockHook(layer, SUFFIX[component])] }).cache.get(blockHook(layer, SUFFIX[component]));
      expect(patchedMetric(component, by, cell, 1, clean, source), `${result.label(...cell)} at ε = 1`).toBeCloseTo(exact.at(...cell) as number, 5);
      const ratioError = (epsilon: number) => {
        const central = (patchedMetric(component, by, cell, epsilon, clean, source) - patchedMetric(component, by, cell, -epsilon, clean, source)) / (2 * epsilon);
        return Math.abs(central / estimate - 1);
      };
      const coarse = ratioError(0.3), fine = ratioError(0.03);
      const message = `${result.label(...cell)}: |ratio − 1| at ε = 0.03 (${fine}) vs 0.3 (${coarse}); metric ${baseValue}`;
      expect(fine, message).toBeLessThan(3e-3);
      // A central difference's error falls as ε² (÷100 here) down to float32 rounding; a wrong
      // gradient or grouping would leave a floor of its own.
      expect(fine, message).toBeLessThan(Math.max(coarse / 20, 1e-4));
    }
  });
});

describe("results have activationPatching's shapes, axes and labels", () => {
  const cases = PATCHES.flatMap(([c, b]) => (["noising", "denoising"] as const).map((d) => [c, b, d] as const));
  it.each(cases)("%s by %s, %s", (component, by, direction) => {
    const result = attributionPatching(model, options(component, by, { direction }));
    const exact = activationPatching(model, { ...options(component, by), direction, ...patchingMetricOf(model, metric, clean) });
    expect(result.values.shape).toEqual(exact.values.shape);
    expect(result.axes).toEqual(exact.axes);
    expect(result.labels).toEqual(exact.labels);
    expect(result.gridRank).toBe(exact.gridRank);
    expect([result.component, result.by, result.direction]).toEqual([exact.component, exact.by, exact.direction]);
    expect(result.method).toBe("attribution");
    expect(exact.method).toBe("activation");
    expect(result.baseline.clean as number).toBeCloseTo(exact.baseline.clean as number, 5);
    expect(result.baseline.corrupted as number).toBeCloseTo(exact.baseline.corrupted as number, 5);
    const last = result.gridShape.map((n) => n - 1);
    expect(result.label(...last)).toBe(exact.label(...last));
    expect(result[JUPYTER_DISPLAY]()["text/html"]).toContain(`attribution patching (${direction}`);
  });
});

describe("patchingMetricOf gives runWithGradients' value from a run's logits", () => {
  it.each([["last", undefined], ["all", "all"], ["one per prompt", [3, 9]]] as const)("positions %s", (_, positions) => {
    const m = logProbMetric(positions === "all" ? 262 : [262, 11], positions === undefined ? {} : { positions: positions as never });
    const { metric: fromLogits, logitPositions } = patchingMetricOf(model, m, corrupted);
    const { logits } = model.run(corrupted, { logitPositions });
    expect(fromLogits(logits)).toBeCloseTo(model.runWithGradients(corrupted, { metric: m }).value, 5);
  });
});

describe("bad options are typed errors, as activationPatching's", () => {
  const same = (bad: Record<string, unknown>) => {
    const exactError = thrownBy(() => activationPatching(model, { ...options("z", "layer_head"), metric: () => 0, ...bad } as never), PatchingError);
    const attributionError = thrownBy(() => attributionPatching(model, { ...options("z", "layer_head"), ...bad } as never), PatchingError);
    expect(attributionError.code).toBe(exactError.code);
    expect(attributionError.message).toBe(exactError.message);
  };

  it("an unsupported component or grouping", () => {
    same({ component: "resid_pre", by: "layer_head" });
    same({ component: "pattern", by: "layer_pos_head" });
    same({ component: "embed" });
  });

  it("a bad direction", () => same({ direction: "sideways" }));

  it("prompts of different shapes", () => same({ corrupted: { ids: corrupted.ids.subarray(0, 13), batch: 1, pos: 13 } }));

  it("a metric that cannot be differentiated, or an activationPatching-only option", () => {
    const fn = thrownBy(() => attributionPatching(model, { ...options("z", "layer_head"), metric: (() => 0) as never }), PatchingError, "bad_option");
    expect(fn.message).toContain("a function of the logits is activationPatching's metric");
    const other = thrownBy(() => attributionPatching(model, { ...options("z", "layer_head"), logitPositions: [12] } as never), PatchingError, "bad_option");
    expect(other.message).toContain('unknown attributionPatching option "logitPositions"');
  });
});
