import { beforeAll, describe, expect, it } from "vitest";
import { Gpt2LensError } from "../../src/errors.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import type { TokenBatch } from "../../src/gpt2/tokens.ts";
import type { HookName } from "../../src/gpt2/hook-names.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import {
  activationPatching, type ActivationPatchingOptions, type PatchComponent, supportedPatches,
} from "../../src/patching/activation-patching.ts";
import { PatchingError } from "../../src/patching/patching-error.ts";
import { JUPYTER_DISPLAY } from "../../src/patching/patching-result.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { expectClose } from "../helpers/compare.ts";
import { TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";

const END = 12;
const TOLERANCE = 1e-4;
let model: HookedGpt2;
let clean: TokenBatch;
let corrupted: TokenBatch;
let yearTokens: Int32Array;

function tokens(name: string): TokenBatch {
  return { ids: tinyGolden().getInt32(name), batch: 2, pos: 13 };
}

/** logits [batch, positions, vocab] → the year-token logits at `at` of every prompt, [batch, 100]. */
function yearLogits(at: number) {
  return (logits: Tensor): Tensor => {
    const [batch, positions, vocab] = logits.shape as [number, number, number];
    const out = new Float32Array(batch * 100);
    for (let b = 0; b < batch; b++) {
      for (let y = 0; y < 100; y++) out[b * 100 + y] = logits.data[(b * positions + at) * vocab + yearTokens[y]!]!;
    }
    return new Tensor(out, [batch, 100]);
  };
}

/** Mean over prompts of the year-50..99 minus year-00..49 logit difference at the last logit position. */
function yearLogitDiff(logits: Tensor): number {
  const [batch, positions, vocab] = logits.shape as [number, number, number];
  let total = 0;
  for (let b = 0; b < batch; b++) {
    const row = (b * positions + positions - 1) * vocab;
    for (let y = 0; y < 100; y++) total += (y >= 50 ? 1 : -1) * logits.data[row + yearTokens[y]!]!;
  }
  return total / batch / 50;
}

function options<C extends PatchComponent>(
  overrides: Partial<ActivationPatchingOptions<C>> & Pick<ActivationPatchingOptions<C>, "component" | "by">,
): ActivationPatchingOptions<C> {
  return { clean, corrupted, metric: yearLogitDiff, logitPositions: [END], ...overrides };
}

function expectPatchingError(fn: () => unknown, code: string, ...fragments: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(PatchingError);
  expect((caught as PatchingError).code).toBe(code);
  for (const fragment of fragments) expect((caught as Error).message).toContain(fragment);
}

beforeAll(async () => {
  model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
  clean = tokens("tokens");
  corrupted = tokens("corrupted_tokens");
  yearTokens = tinyGolden().getInt32("year_tokens");
});

describe("activation patching vs HuggingFace goldens (tiny-gpt2, denoising)", () => {
  const cases = [
    ["patch.resid_pre.by_layer_pos", "resid_pre", "layer_pos", ["layer", "pos"]],
    ["patch.mlp_out.by_layer_pos", "mlp_out", "layer_pos", ["layer", "pos"]],
    ["patch.head_z.by_layer_head", "z", "layer_head", ["layer", "head"]],
  ] as const;

  it.each(cases)("%s", (name, component, by, gridAxes) => {
    const golden = tinyGolden();
    const result = activationPatching(model, options({ component, by, metric: yearLogits(0) } as ActivationPatchingOptions));
    expect(result.values.shape).toEqual(golden.info(name).shape);
    expect(result.axes).toEqual([...gridAxes, "metric0", "metric1"]);
    expectClose(result.values.data, golden.getFloat32(name), TOLERANCE, name);
    expect(result.component).toBe(component);
    expect(result.direction).toBe("denoising");
  });

  it("the default logitPositions (every position, as TransformerLens) give the same grid", () => {
    const golden = tinyGolden();
    const result = activationPatching(model, options({ component: "z", by: "layer_head", metric: yearLogits(END), logitPositions: undefined }));
    expectClose(result.values.data, golden.getFloat32("patch.head_z.by_layer_head"), TOLERANCE, "z by layer_head, all positions");
  });

  it("small maxBatchRows (one variant per forward) changes nothing", () => {
    const batched = activationPatching(model, options({ component: "resid_pre", by: "layer_pos" }));
    const single = activationPatching(model, options({ component: "resid_pre", by: "layer_pos", maxBatchRows: 1 }));
    expect(Array.from(single.values.data)).toEqual(Array.from(batched.values.data));
  });
});

describe("activation patching semantics", () => {
  it("baselines are the metric of the unpatched clean and corrupted runs", () => {
    const result = activationPatching(model, options({ component: "attn_out", by: "layer_pos" }));
    const metricOf = (t: TokenBatch) => yearLogitDiff(model.run(t, { logitPositions: [END] }).logits);
    expect(result.baseline.clean).toBe(metricOf(clean));
    expect(result.baseline.corrupted).toBe(metricOf(corrupted));
    expect(result.baseline.clean).not.toBe(result.baseline.corrupted);
  });

  it("resid_pre at layer 0 at the one differing position (YY) restores the clean run; earlier positions change nothing", () => {
    const differing = [...Array(13).keys()].filter((p) => clean.ids[p] !== corrupted.ids[p] || clean.ids[13 + p] !== corrupted.ids[13 + p]);
    expect(differing).toEqual([8]);
    const result = activationPatching(model, options({ component: "resid_pre", by: "layer_pos" }));
    for (let layer = 0; layer < 2; layer++) {
      for (let p = 0; p < 13; p++) {
        const v = result.at(layer, p) as number;
        if (layer === 0 && p === 8) expect(v).toBe(Math.fround(result.baseline.clean as number));
        else if (p < 8 || layer === 0) expect(v).toBe(Math.fround(result.baseline.corrupted as number));
        else expect(v).not.toBe(Math.fround(result.baseline.corrupted as number));
      }
    }
  });

  it("skipped no-op variants and run variants both equal a plain hooked forward from the embedding", () => {
    /** TransformerLens' way: one full forward of the corrupted prompt with one hook. */
    const plain = (suffix: string, layer: number, copy: (act: Tensor, src: Tensor) => void, logitPositions: number[]) => {
      const name = `blocks.${layer}.${suffix}` as HookName;
      const source = model.run(clean, { cache: [name] }).cache.get(name);
      const { logits } = model.run(corrupted, { hooks: [[name, (act) => copy(act, source)]], logitPositions });
      return yearLogitDiff(logits);
    };
    const copyPos = (p: number) => (act: Tensor, src: Tensor) => {
      const width = act.size / (2 * 13);
      for (let b = 0; b < 2; b++) act.data.set(src.data.subarray((b * 13 + p) * width, (b * 13 + p + 1) * width), (b * 13 + p) * width);
    };
    const copyPosHead = (p: number, h: number) => (act: Tensor, src: Tensor) => {
      for (let b = 0; b < 2; b++) {
        const at = ((b * 13 + p) * 4 + h) * 8;
        act.data.set(src.data.subarray(at, at + 8), at);
      }
    };
    const resid = activationPatching(model, options({ component: "resid_pre", by: "layer_pos" }));
    for (const [layer, p] of [[1, 3], [0, 11], [0, 8], [1, 9], [1, 12]] as const) {
      expect(resid.at(layer, p), `resid_pre L${layer}@${p}`).toBe(Math.fround(plain("hook_resid_pre", layer, copyPos(p), [END])));
    }
    const k = activationPatching(model, options({ component: "k", by: "layer_pos_head", logitPositions: [10] }));
    for (const [layer, p, h] of [[0, 12, 1], [1, 11, 3], [0, 9, 2], [1, 10, 0], [1, 2, 2]] as const) {
      expect(k.at(layer, p, h), `k L${layer}H${h}@${p}`).toBe(Math.fround(plain("attn.hook_k", layer, copyPosHead(p, h), [10])));
    }
  });

  it("with clean = corrupted every patched value equals the baseline exactly", () => {
    const combos: [PatchComponent, "layer_pos" | "layer_head" | "layer_pos_head"][] = [
      ["resid_pre", "layer_pos"], ["resid_mid", "layer_pos"], ["resid_post", "layer_pos"], ["attn_out", "layer_pos"],
      ["mlp_out", "layer_pos"], ["q", "layer_head"], ["k", "layer_pos_head"], ["v", "layer_head"], ["z", "layer_pos_head"],
      ["pattern", "layer_head"],
    ];
    for (const [component, by] of combos) {
      const result = activationPatching(model, { component, by, clean, corrupted: clean, metric: yearLogitDiff, logitPositions: [END], maxBatchRows: 7 } as ActivationPatchingOptions);
      for (const v of result.values.data) expect(v).toBe(Math.fround(result.baseline.clean as number));
    }
  });

  it("noising equals denoising with clean and corrupted swapped", () => {
    for (const [component, by] of [["resid_post", "layer_pos"], ["k", "layer_pos_head"], ["pattern", "layer_head"]] as const) {
      const noising = activationPatching(model, options({ component, by, direction: "noising" } as ActivationPatchingOptions));
      const swapped = activationPatching(model, options({ component, by, clean: corrupted, corrupted: clean } as ActivationPatchingOptions));
      expect(noising.direction).toBe("noising");
      expect(Array.from(noising.values.data)).toEqual(Array.from(swapped.values.data));
      expect(noising.baseline).toEqual({ clean: swapped.baseline.corrupted, corrupted: swapped.baseline.clean });
    }
  });

  it("grid shapes, axes and labels of every grouping", () => {
    const z = activationPatching(model, options({ component: "z", by: "layer_pos_head" }));
    expect(z.values.shape).toEqual([2, 13, 4]);
    expect(z.axes).toEqual(["layer", "pos", "head"]);
    expect(z.labels).toEqual([["L0", "L1"], [...Array(13).keys()].map(String), ["H0", "H1", "H2", "H3"]]);
    expect(z.label(1, 7, 3)).toBe("L1H3@7");
    // Before the differing position (8) clean and corrupted z agree: patching there changes nothing.
    expect(z.at(0, 3, 2)).toBe(Math.fround(z.baseline.corrupted as number));
    const heads = activationPatching(model, options({ component: "pattern", by: "layer_head" }));
    expect(heads.values.shape).toEqual([2, 4]);
    expect(heads.label(1, 3)).toBe("L1H3");
    const resid = activationPatching(model, options({ component: "resid_mid", by: "layer_pos" }));
    expect(resid.label(0, 12)).toBe("L0@12");
    expect(() => resid.label(2, 0)).toThrow(PatchingError);
  });

  it("metric shapes: a scalar, an array (axis 'metric'), a tensor (its axes); baselines follow", () => {
    const scalar = activationPatching(model, options({ component: "v", by: "layer_head" }));
    expect(scalar.values.shape).toEqual([2, 4]);
    expect(scalar.metricShape).toEqual([]);
    const array = activationPatching(model, options({
      component: "v", by: "layer_head", metric: (logits) => Array.from(yearLogits(0)(logits).data.subarray(0, 3)),
    }));
    expect(array.values.shape).toEqual([2, 4, 3]);
    expect(array.axes).toEqual(["layer", "head", "metric"]);
    expect(array.labels[2]).toEqual(["0", "1", "2"]);
    expect(Array.isArray(array.baseline.clean) && array.baseline.clean.length).toBe(3);
    expect(array.at(1, 2)).toEqual(Array.from(array.values.data.subarray((1 * 4 + 2) * 3, (1 * 4 + 3) * 3)));
    const tensor = activationPatching(model, options({ component: "v", by: "layer_head", metric: yearLogits(0) }));
    expect(tensor.values.shape).toEqual([2, 4, 2, 100]);
    expect(tensor.metricShape).toEqual([2, 100]);
  });

  it("rejects metrics whose returns change shape or are not numbers", () => {
    let calls = 0;
    const changing = () => (++calls > 3 ? [1, 2] : [1, 2, 3]);
    expectPatchingError(() => activationPatching(model, options({ component: "resid_pre", by: "layer_pos", metric: changing })), "bad_metric", "[2]", "[3]");
    const bad = (() => "no") as unknown as () => number;
    expectPatchingError(() => activationPatching(model, options({ component: "resid_pre", by: "layer_pos", metric: bad })), "bad_metric", "string");
  });

  it("Jupyter display: a self-contained, escaped HTML table", () => {
    const result = activationPatching(model, options({ component: "z", by: "layer_pos_head", metric: yearLogits(0) }));
    expect(JUPYTER_DISPLAY).toBe(Symbol.for("Jupyter.display"));
    const html = result[JUPYTER_DISPLAY]()["text/html"];
    expect(html.startsWith("<table")).toBe(true);
    expect(html).toContain("denoising patching of z by layer_pos_head (mean over 200 metric values)");
    expect(html).toContain("L1 pos 12");
    expect(html).toContain('title="L1H3@12: ');
    expect(html.match(/<td /g)?.length).toBe(2 * 13 * 4);
    expect(html).not.toMatch(/<script|src=|href=/);
  });
});

describe("bad input", () => {
  it("clean and corrupted of different shapes", () => {
    const short = { ids: corrupted.ids.subarray(0, 24), batch: 2, pos: 12 };
    expectPatchingError(() => activationPatching(model, options({ component: "resid_pre", by: "layer_pos", corrupted: short })), "shape_mismatch", "[2, 13]", "[2, 12]");
    expectPatchingError(() => activationPatching(model, options({ component: "resid_pre", by: "layer_pos", corrupted: [[...corrupted.ids.subarray(0, 13)]] })), "shape_mismatch", "[2, 13]", "[1, 13]");
  });

  it("unsupported components and groupings name the valid ones", () => {
    for (const [component, by] of [["pattern", "layer_pos"], ["resid_pre", "layer_head"], ["mlp_post", "layer_pos"], ["z", "pos"]]) {
      expectPatchingError(
        () => activationPatching(model, options({ component, by } as unknown as ActivationPatchingOptions)),
        "unsupported_patch", `"${component}"`, "resid_pre by layer_pos", "z by layer_pos_head", "pattern by layer_head",
      );
    }
    expect(supportedPatches()).toHaveLength(14);
  });

  it("logit positions out of range, empty; bad maxBatchRows or direction", () => {
    for (const logitPositions of [[13], [-1], [1.5], [3, 13]]) {
      expectPatchingError(() => activationPatching(model, options({ component: "resid_pre", by: "layer_pos", logitPositions })), "bad_position", "[0, 13)");
    }
    expectPatchingError(() => activationPatching(model, options({ component: "resid_pre", by: "layer_pos", logitPositions: [] })), "bad_position");
    expectPatchingError(() => activationPatching(model, options({ component: "resid_pre", by: "layer_pos", maxBatchRows: 0 })), "bad_option", "maxBatchRows");
    expectPatchingError(() => activationPatching(model, options({ component: "resid_pre", by: "layer_pos", direction: "both" as "noising" })), "bad_option", "direction");
  });

  it("invalid tokens are the model's typed input errors", () => {
    expect(() => activationPatching(model, options({ component: "resid_pre", by: "layer_pos", clean: [[1, 2, 99999]], corrupted: [[1, 2, 3]] }))).toThrow(Gpt2LensError);
  });
});
