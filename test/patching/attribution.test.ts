import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { ActivationCache } from "../../src/hooks/activation-cache.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import type { HookName } from "../../src/gpt2/hook-names.ts";
import {
  accumulatedResidual,
  applyLnToStack,
  decomposedResidual,
  headDla,
  logitAttrs,
  logitLens,
  mlpDla,
  neuronDirectPathPatching,
  neuronDla,
  rankNeurons,
  topNeurons,
  unembedDirection,
  unembedDirections,
} from "../../src/patching/attribution.ts";
import { PatchingError } from "../../src/patching/patching-error.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { expectClose, relativeError } from "../helpers/compare.ts";
import { TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";

const END = 12;
let model: HookedGpt2;
let yearTokens: number[];
/** Full caches (with attn.hook_result) of the clean and corrupted runs. */
let clean: ActivationCache;
let corrupted: ActivationCache;
let cleanLogits: Tensor;
/** Caches without attn.hook_result, so a hooked rerun sums attention heads in the same order. */
let cleanPlain: ActivationCache;
let corruptedPlain: ActivationCache;

function tokens(name: string) {
  const golden = tinyGolden();
  const [batch, pos] = golden.info(name).shape as [number, number];
  return { ids: golden.getInt32(name), batch, pos };
}

const notResult = (name: HookName) => !name.endsWith("attn.hook_result");

beforeAll(async () => {
  model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
  yearTokens = Array.from(tinyGolden().getInt32("year_tokens"));
  const run = model.run(tokens("tokens"), { cache: true });
  clean = run.cache;
  cleanLogits = run.logits;
  corrupted = model.run(tokens("corrupted_tokens"), { cache: true }).cache;
  cleanPlain = model.run(tokens("tokens"), { cache: notResult }).cache;
  corruptedPlain = model.run(tokens("corrupted_tokens"), { cache: notResult }).cache;
});

/** logits[b, pos, tokens] → [batch, tokens]. */
function logitsAt(logits: Tensor, pos: number, ids: readonly number[]): Float32Array {
  const [batch, length, vocab] = logits.shape as [number, number, number];
  const out = new Float32Array(batch * ids.length);
  for (let b = 0; b < batch; b++) ids.forEach((t, i) => (out[b * ids.length + i] = logits.data[(b * length + pos) * vocab + t]!));
  return out;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>, aOffset = 0, bOffset = 0, n = a.length): number {
  let acc = 0;
  for (let j = 0; j < n; j++) acc += a[aOffset + j]! * b[bOffset + j]!;
  return acc;
}

function expectThrowsPatching(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, "expected a throw").toBeDefined();
  expect((caught as Error).message).toMatch(pattern);
}

describe("W_U access", () => {
  it("W_U[:, t] is row t of unembedTransposed", () => {
    const { dModel: d } = model.config;
    const u = model.model.weights.unembedTransposed;
    expect(Array.from(unembedDirection(model, 42))).toEqual(Array.from(u.subarray(42 * d, 43 * d)));
    const dirs = unembedDirections(model.model, yearTokens.slice(0, 3));
    expect(dirs.shape).toEqual([3, d]);
    expect(Array.from(dirs.data.subarray(d, 2 * d))).toEqual(Array.from(u.subarray(yearTokens[1]! * d, (yearTokens[1]! + 1) * d)));
    expect(() => unembedDirection(model, model.config.dVocab)).toThrow(PatchingError);
  });
});

describe("direct logit attribution", () => {
  it("neuronDla matches the golden attr.neuron_dla at END for every layer", () => {
    const golden = tinyGolden();
    for (let layer = 0; layer < model.config.nLayers; layer++) {
      const result = neuronDla(model, clean, layer, END, yearTokens);
      const name = `attr.neuron_dla.blocks.${layer}`;
      expect(result.values.shape).toEqual(golden.info(name).shape);
      expect(result.values.shape).toEqual([2, model.config.dMlp, 100]);
      expect(result.labels[5]).toBe(`L${layer}N5`);
      expectClose(result.values.data, golden.getFloat32(name), 1e-4, name);
    }
  });

  it("head DLA from hook_result equals head DLA rebuilt from hook_z, and heads + b_O give attn_out's DLA", () => {
    const fromResult = headDla(model, clean, { pos: END, tokens: yearTokens });
    const fromZ = headDla(model.model, cleanPlain, { pos: END, tokens: yearTokens });
    expect(fromResult.labels.slice(0, 5)).toEqual(["L0H0", "L0H1", "L0H2", "L0H3", "L1H0"]);
    expect(fromResult.values.shape).toEqual([model.config.nLayers * model.config.nHeads, 2, 100]);
    expectClose(fromZ.values.data, fromResult.values.data, 1e-5, "hook_z fallback");

    const { nHeads, dModel: d } = model.config;
    for (let layer = 0; layer < model.config.nLayers; layer++) {
      const attnOut = clean.get(`blocks.${layer}.hook_attn_out`);
      const bias = model.model.weights.blocks[layer]!.outBias;
      const expected = new Float32Array(2 * 100);
      const actual = new Float32Array(2 * 100);
      for (let b = 0; b < 2; b++) {
        yearTokens.forEach((t, i) => {
          const u = unembedDirection(model, t);
          expected[b * 100 + i] = dot(attnOut.data, u, (b * 13 + END) * d, 0, d);
          let sum = dot(bias, u);
          for (let h = 0; h < nHeads; h++) sum += fromResult.values.get(layer * nHeads + h, b, i);
          actual[b * 100 + i] = sum;
        });
      }
      expectClose(actual, expected, 1e-5, `layer ${layer}`);
    }
  });

  it("mlpDla is hook_mlp_out · W_U[:, t]", () => {
    const result = mlpDla(model, clean, { pos: END, tokens: yearTokens, layers: [1] });
    expect(result.labels).toEqual(["MLP1"]);
    const out = clean.get("blocks.1.hook_mlp_out");
    const d = model.config.dModel;
    const expected = new Float32Array(200);
    for (let b = 0; b < 2; b++) yearTokens.forEach((t, i) => (expected[b * 100 + i] = dot(out.data, unembedDirection(model, t), (b * 13 + END) * d, 0, d)));
    expectClose(result.values.data, expected, 1e-5, "MLP1 DLA");
  });

  it("with applyLn, the DLA of the decomposed residual plus ln_final's bias term is the logits", () => {
    const stack = decomposedResidual(clean, model.config, { pos: END }).values;
    const attrs = logitAttrs(model, clean, stack, { pos: END, tokens: yearTokens, applyLn: true });
    expect(attrs.shape).toEqual([stack.shape[0], 2, 100]);
    const summed = new Float32Array(200);
    const lnBias = model.model.weights.lnFinalBias;
    for (let b = 0; b < 2; b++) {
      yearTokens.forEach((t, i) => {
        let total = dot(lnBias, unembedDirection(model, t));
        for (let c = 0; c < stack.shape[0]!; c++) total += attrs.get(c, b, i);
        summed[b * 100 + i] = total;
      });
    }
    expectClose(summed, logitsAt(cleanLogits, END, yearTokens), 1e-4, "Σ components");
    // Head and MLP DLA with applyLn use the same frozen, centred scaling.
    const mlps = mlpDla(model, clean, { pos: END, tokens: yearTokens, applyLn: true });
    const mlpRows = stack.shape[0]! - 1; // last component: 1_mlp_out
    expectClose(mlps.values.data.subarray(200), attrs.data.subarray(mlpRows * 200), 1e-6, "MLP1 vs decomposed");
  });

  it("applyLnToStack centres and divides by the cached ln_final scale", () => {
    const resid = clean.get("blocks.1.hook_resid_post");
    const scaled = applyLnToStack(clean, resid);
    expectClose(scaled.data, clean.get("ln_final.hook_normalized").data, 1e-5, "normalized");
    expect(() => applyLnToStack(clean, resid, { pos: END })).toThrow(/does not end in/);
  });

  it("names what to cache when activations are missing", () => {
    const empty = model.run(tokens("tokens"), { cache: ["blocks.0.hook_resid_pre"] }).cache;
    expectThrowsPatching(() => neuronDla(model, empty, 1, END, yearTokens), /"blocks\.1\.mlp\.hook_post".*cache: \[/);
    expectThrowsPatching(() => headDla(model, empty, { pos: END, tokens: yearTokens }), /blocks\.0\.attn\.hook_result.*hook_z/);
    const noScale = model.run(tokens("tokens"), { cache: ["blocks.0.hook_mlp_out"] }).cache;
    expectThrowsPatching(
      () => mlpDla(model, noScale, { pos: END, tokens: yearTokens, applyLn: true, layers: [0] }),
      /"ln_final\.hook_scale"/,
    );
    expectThrowsPatching(() => decomposedResidual(empty, model), /"hook_embed", "hook_pos_embed".*cache: true/);
  });

  it("rejects bad positions, layers and tokens", () => {
    expect(() => neuronDla(model, clean, 2, END, yearTokens)).toThrow(/layer 2/);
    expect(() => neuronDla(model, clean, 0, 13, yearTokens)).toThrow(/position 13/);
    expect(() => neuronDla(model, clean, 0, END, [-1])).toThrow(/tokens\[0\]/);
    expect(() => neuronDla(model, clean, 0, END, [])).toThrow(/empty/);
  });
});

describe("logit lens", () => {
  it("of the final resid_post with recomputed LN is the model's logits", () => {
    const final = clean.get("blocks.1.hook_resid_post");
    const lens = logitLens(model, final, { ln: "recompute" });
    expect(lens.values.shape).toEqual(cleanLogits.shape);
    expectClose(lens.values.data, cleanLogits.data, 1e-5, "recompute");
    const frozen = logitLens(model, final, { ln: "frozen", cache: clean });
    expectClose(frozen.values.data, cleanLogits.data, 1e-5, "frozen");
  });

  it("selects positions and tokens", () => {
    const final = clean.get("blocks.1.hook_resid_post");
    const lens = logitLens(model, final, { ln: "recompute", positions: [END, 3], tokens: yearTokens });
    expect(lens.values.shape).toEqual([2, 2, 100]);
    expect(lens.labels).toEqual(["pos 12", "pos 3"]);
    const expectedEnd = logitsAt(cleanLogits, END, yearTokens);
    const expected3 = logitsAt(cleanLogits, 3, yearTokens);
    const actualEnd = new Float32Array(200);
    const actual3 = new Float32Array(200);
    for (let b = 0; b < 2; b++) {
      actualEnd.set(lens.values.data.subarray((b * 2) * 100, (b * 2 + 1) * 100), b * 100);
      actual3.set(lens.values.data.subarray((b * 2 + 1) * 100, (b * 2 + 2) * 100), b * 100);
    }
    expectClose(actualEnd, expectedEnd, 1e-5, "END");
    expectClose(actual3, expected3, 1e-5, "pos 3");
  });

  it("frozen and recompute agree where the scale is the activation's own, and differ elsewhere", () => {
    const mid = clean.get("blocks.1.hook_resid_mid");
    const recompute = logitLens(model, mid, { ln: "recompute", positions: [END], tokens: yearTokens });
    const frozen = logitLens(model, mid, { ln: "frozen", cache: clean, positions: [END], tokens: yearTokens });
    expect(relativeError(frozen.values.data, recompute.values.data)).toBeGreaterThan(1e-3);
    // Frozen is linear: lens(mid) − lens(resid_post) = frozen DLA of −mlp_out.
    const post = logitLens(model, clean.get("blocks.1.hook_resid_post"), { ln: "frozen", cache: clean, positions: [END], tokens: yearTokens });
    const mlp = mlpDla(model, clean, { pos: END, tokens: yearTokens, layers: [1], applyLn: true });
    const diff = post.values.data.map((v, i) => v - frozen.values.data[i]!);
    expectClose(diff, mlp.values.data, 1e-4, "linearity of the frozen lens");
  });

  it("lenses a stack of accumulated residuals; its final component is the logits", () => {
    const acc = accumulatedResidual(clean, model, { inclMid: true });
    const lens = logitLens(model, acc.values, { ln: "recompute", positions: [END], tokens: yearTokens });
    expect(lens.values.shape).toEqual([acc.labels.length, 2, 1, 100]);
    expect(lens.axes).toEqual(["component", "batch", "pos", "token"]);
    const last = lens.values.data.subarray((acc.labels.length - 1) * 200);
    expectClose(last, logitsAt(cleanLogits, END, yearTokens), 1e-5, "final_post");
    const frozen = logitLens(model, acc.values, { ln: "frozen", cache: clean, positions: [END], tokens: yearTokens });
    expectClose(frozen.values.data.subarray((acc.labels.length - 1) * 200), logitsAt(cleanLogits, END, yearTokens), 1e-5, "frozen final_post");
  });

  it("frozen needs the cache", () => {
    const final = clean.get("blocks.1.hook_resid_post");
    expect(() => logitLens(model, final, { ln: "frozen" })).toThrow(/pass its cache/);
    expect(() => logitLens(model, clean.get("blocks.1.mlp.hook_post"), { ln: "recompute" })).toThrow(/not \[batch, pos, 32\]/);
  });
});

describe("neuron direct-path patching", () => {
  const LAYERS = [0, 1];

  it("is zero everywhere when clean = corrupted", () => {
    for (const ln of ["recompute", "frozen"] as const) {
      for (const together of [false, true]) {
        const result = neuronDirectPathPatching(model, { clean, corrupted: clean, layer: 0, pos: END, tokens: yearTokens, ln, together });
        expect(result.values.data.every((v) => v === 0), `${ln} together=${together}`).toBe(true);
      }
    }
  });

  it("returns [neurons, batch, tokens], and the full vocabulary only without tokens", () => {
    const some = neuronDirectPathPatching(model, { clean, corrupted, layer: 1, pos: END, neurons: [3, 7, 11], tokens: yearTokens });
    expect(some.values.shape).toEqual([3, 2, 100]);
    expect(some.labels).toEqual(["L1N3", "L1N7", "L1N11"]);
    const all = neuronDirectPathPatching(model, { clean, corrupted, layer: 1, pos: END, neurons: [3, 7, 11] });
    expect(all.values.shape).toEqual([3, 2, model.config.dVocab]);
    const picked = new Float32Array(3 * 2 * 100);
    for (let r = 0; r < 6; r++) yearTokens.forEach((t, i) => (picked[r * 100 + i] = all.values.data[r * model.config.dVocab + t]!));
    expectClose(picked, some.values.data, 1e-5, "token subset");
    const defaultNeurons = neuronDirectPathPatching(model, { clean, corrupted, layer: 0, pos: END, tokens: [yearTokens[0]!] });
    expect(defaultNeurons.values.shape).toEqual([model.config.dMlp, 2, 1]);
  });

  it("with frozen LN is linear: all neurons together = Σ single-neuron effects", () => {
    for (const layer of LAYERS) {
      const single = neuronDirectPathPatching(model, { clean, corrupted, layer, pos: END, tokens: yearTokens, ln: "frozen" });
      const together = neuronDirectPathPatching(model, { clean, corrupted, layer, pos: END, tokens: yearTokens, ln: "frozen", together: true });
      expect(together.values.shape).toEqual([1, 2, 100]);
      const summed = new Float32Array(200);
      for (let n = 0; n < model.config.dMlp; n++) for (let i = 0; i < 200; i++) summed[i] += single.values.data[n * 200 + i]!;
      expectClose(summed, together.values.data, 1e-4, `layer ${layer}`);
      expect(relativeError(together.values.data, new Float32Array(200))).toBeGreaterThan(0);
    }
  });

  /*
   * DLA consistency. With frozen LN the final residual r changes by δ = Δa·W_out[n] (Δa = post_corr −
   * post_clean at (b, END, n)), and for token t
   *   Δlogit = [(c(r + δ) − c(r)) / s] · (w ⊙ W_U[:, t]) = Δa · c(W_out[n]) · (w ⊙ W_U[:, t]) / s,
   * where c centres a vector, s is the clean ln_final.hook_scale and w the ln_final weight; ln_final's
   * bias is added to both logits and cancels. That is exactly neuron DLA with applyLn of an "activation"
   * Δa, checked here against neuronDla on a cache holding Δpost, and against the formula written out.
   */
  it("with frozen LN equals neuron DLA (applyLn) of post_corr − post_clean", () => {
    const { dModel: d, dMlp } = model.config;
    for (const layer of LAYERS) {
      const name = `blocks.${layer}.mlp.hook_post` as const;
      const deltaCache = new ActivationCache();
      const post = clean.get(name);
      deltaCache.record(name, new Tensor(corrupted.get(name).data.map((v, i) => v - post.data[i]!), post.shape));
      deltaCache.record("ln_final.hook_scale", clean.get("ln_final.hook_scale"));
      const dla = neuronDla(model, deltaCache, layer, END, yearTokens, { applyLn: true }); // [batch, neuron, token]
      const patch = neuronDirectPathPatching(model, { clean, corrupted, layer, pos: END, tokens: yearTokens, ln: "frozen" });
      const reordered = new Float32Array(patch.values.size);
      for (let n = 0; n < dMlp; n++) for (let b = 0; b < 2; b++) for (let t = 0; t < 100; t++) reordered[(n * 2 + b) * 100 + t] = dla.values.get(b, n, t);
      expectClose(patch.values.data, reordered, 1e-5, `layer ${layer} vs neuronDla`);

      const wOut = model.model.weights.blocks[layer]!.mlpOutWeight;
      const w = model.model.weights.lnFinalWeight;
      const scale = clean.get("ln_final.hook_scale");
      const manual = new Float32Array(patch.values.size);
      for (const n of [0, 17, 99]) {
        let mean = 0;
        for (let j = 0; j < d; j++) mean += wOut[n * d + j]!;
        mean /= d;
        for (let b = 0; b < 2; b++) {
          const deltaA = corrupted.get(name).get(b, END, n) - post.get(b, END, n);
          const s = scale.get(b, END, 0);
          yearTokens.forEach((t, i) => {
            const u = unembedDirection(model, t);
            let acc = 0;
            for (let j = 0; j < d; j++) acc += (wOut[n * d + j]! - mean) * w[j]! * u[j]!;
            manual[(n * 2 + b) * 100 + i] = (deltaA * acc) / s;
          });
        }
        const slice = (x: Float32Array) => x.subarray(n * 200, (n + 1) * 200);
        expectClose(slice(patch.values.data), slice(manual), 1e-5, `layer ${layer} neuron ${n} formula`);
      }
    }
  });

  it("with recomputed LN at the last layer equals really patching hook_post in the model", () => {
    const layer = model.config.nLayers - 1;
    const name = `blocks.${layer}.mlp.hook_post` as const;
    const base = model.run(tokens("tokens")).logits;
    const patchRun = (neurons: readonly number[]) =>
      model.run(tokens("tokens"), {
        hooks: [
          [name, (act) => {
            for (let b = 0; b < 2; b++) for (const n of neurons) act.set([b, END, n], corruptedPlain.get(name).get(b, END, n));
          }],
        ],
      }).logits;
    const subtract = (a: Float32Array, b: Float32Array) => a.map((v, i) => v - b[i]!);
    // A single neuron moves a logit by ~1e-3 while the float32 run's own logits (~4) carry ~4e-7 of
    // rounding noise, so single neurons are compared in absolute terms against the logits' scale.
    const logitScale = Math.max(...logitsAt(base, END, yearTokens).map(Math.abs));
    const neurons = [0, 5, 64, 127];
    const single = neuronDirectPathPatching(model, { clean: cleanPlain, corrupted: corruptedPlain, layer, pos: END, neurons, tokens: yearTokens });
    neurons.forEach((n, k) => {
      const expected = subtract(logitsAt(patchRun([n]), END, yearTokens), logitsAt(base, END, yearTokens));
      const actual = single.values.data.subarray(k * 200, (k + 1) * 200);
      const maxDiff = Math.max(...actual.map((v, i) => Math.abs(v - expected[i]!)));
      expect(maxDiff, `neuron ${n}`).toBeLessThanOrEqual(1e-6 * logitScale);
    });
    const allNeurons = Array.from({ length: model.config.dMlp }, (_, n) => n);
    const together = neuronDirectPathPatching(model, { clean: cleanPlain, corrupted: corruptedPlain, layer, pos: END, tokens: yearTokens, together: true });
    const expectedAll = subtract(logitsAt(patchRun(allNeurons), END, yearTokens), logitsAt(base, END, yearTokens));
    expectClose(together.values.data, expectedAll, 1e-4, "all neurons together");
  });

  it("with recomputed LN equals a float64 evaluation of ln_final on the patched residual", () => {
    const { dModel: d, layerNormEps: eps } = model.config;
    const weights = model.model.weights;
    const lnFinal = (x: number[]) => {
      const mean = x.reduce((s, v) => s + v, 0) / d;
      const scale = Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / d + eps);
      return x.map((v, j) => ((v - mean) / scale) * weights.lnFinalWeight[j]! + weights.lnFinalBias[j]!);
    };
    const final = clean.get("blocks.1.hook_resid_post");
    for (const layer of LAYERS) {
      const name = `blocks.${layer}.mlp.hook_post` as const;
      const neurons = [0, 31, 90];
      const result = neuronDirectPathPatching(model, { clean, corrupted, layer, pos: END, neurons, tokens: yearTokens });
      const expected = new Float64Array(result.values.size);
      neurons.forEach((n, k) => {
        for (let b = 0; b < 2; b++) {
          const deltaA = corrupted.get(name).get(b, END, n) - clean.get(name).get(b, END, n);
          const r = Array.from({ length: d }, (_, j) => final.get(b, END, j));
          const before = lnFinal(r);
          const after = lnFinal(r.map((v, j) => v + deltaA * weights.blocks[layer]!.mlpOutWeight[n * d + j]!));
          yearTokens.forEach((t, i) => {
            const u = unembedDirection(model, t);
            expected[(k * 2 + b) * 100 + i] = dot(after, u) - dot(before, u);
          });
        }
      });
      expectClose(result.values.data, expected, 1e-5, `layer ${layer}`);
    }
  });

  it("closed-form single-neuron recompute equals patching that neuron alone", () => {
    const neurons = [2, 40, 77];
    const each = neuronDirectPathPatching(model, { clean, corrupted, layer: 0, pos: END, neurons, tokens: yearTokens });
    neurons.forEach((n, k) => {
      const alone = neuronDirectPathPatching(model, { clean, corrupted, layer: 0, pos: END, neurons: [n], tokens: yearTokens, together: true });
      // Both routes take the difference of two nearly equal float32 logit vectors, so agreement is
      // limited by float32 rounding of the logits (≈1e-4 of the small difference), not by the method.
      expectClose(each.values.data.subarray(k * 200, (k + 1) * 200), alone.values.data, 1e-3, `neuron ${n}`);
    });
  });

  it("checks its inputs", () => {
    const base = { clean, corrupted, layer: 0, pos: END, tokens: yearTokens };
    expect(() => neuronDirectPathPatching(model, { ...base, neurons: [1, 1] })).toThrow(/twice/);
    expect(() => neuronDirectPathPatching(model, { ...base, neurons: [128] })).toThrow(/neurons\[0\] = 128/);
    expect(() => neuronDirectPathPatching(model, { ...base, pos: 20 })).toThrow(/position 20/);
    const partial = model.run(tokens("corrupted_tokens"), { cache: ["blocks.1.mlp.hook_post"] }).cache;
    expectThrowsPatching(() => neuronDirectPathPatching(model, { ...base, corrupted: partial }), /corrupted run.*"blocks\.0\.mlp\.hook_post"/);
    expectThrowsPatching(
      () => neuronDirectPathPatching(model, { ...base, clean: partial, ln: "frozen" }),
      /clean run.*"blocks\.0\.mlp\.hook_post", "blocks\.1\.hook_resid_post", "ln_final\.hook_scale"/,
    );
  });
});

describe("ranking neurons", () => {
  it("topNeurons sorts by |score|, ties by index, NaN last", () => {
    expect(topNeurons([0.5, -2, 1, NaN, 2], 4)).toEqual([
      { neuron: 1, score: -2 },
      { neuron: 4, score: 2 },
      { neuron: 2, score: 1 },
      { neuron: 0, score: 0.5 },
    ]);
    expect(topNeurons(new Float32Array([1, 2]), 10).map((s) => s.neuron)).toEqual([1, 0]);
    expect(topNeurons([], 3)).toEqual([]);
    expect(() => topNeurons([1], -1)).toThrow(/non-negative/);
  });

  it("topNeurons agrees with a full sort (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { maxLength: 50 }), fc.nat(60), (scores, k) => {
        const top = topNeurons(scores, k);
        expect(top.length).toBe(Math.min(k, scores.length));
        for (let i = 1; i < top.length; i++) expect(Math.abs(top[i - 1]!.score)).toBeGreaterThanOrEqual(Math.abs(top[i]!.score));
        const chosen = new Set(top.map((s) => s.neuron));
        const threshold = top.length ? Math.abs(top[top.length - 1]!.score) : Infinity;
        scores.forEach((s, i) => {
          if (!chosen.has(i)) expect(Math.abs(s)).toBeLessThanOrEqual(threshold);
        });
      }),
    );
  });

  it("rankNeurons averages a per-prompt year-logit difference over the batch", () => {
    const YY = [32, 53]; // the clean prompts' start years 1732 and 1453
    const metric = (changes: Float32Array, prompt: number) => {
      let total = 0;
      for (let y = 0; y < 100; y++) total += (y > YY[prompt]! ? 1 : -1) * changes[y]!;
      return total;
    };
    const neurons = [1, 9, 33, 64, 100];
    const result = neuronDirectPathPatching(model, { clean, corrupted, layer: 1, pos: END, neurons, tokens: yearTokens, ln: "frozen" });
    const { scores, ranking } = rankNeurons(result, metric, 3);
    expect(scores.length).toBe(5);
    neurons.forEach((_, i) => {
      const expected =
        (metric(result.values.data.subarray(i * 200, i * 200 + 100), 0) +
          metric(result.values.data.subarray(i * 200 + 100, i * 200 + 200), 1)) / 2;
      expect(scores[i]).toBeCloseTo(expected, 4);
    });
    expect(ranking.length).toBe(3);
    const byMagnitude = [...neurons.keys()].sort((a, b) => Math.abs(scores[b]!) - Math.abs(scores[a]!));
    expect(ranking.map((r) => r.neuron)).toEqual(byMagnitude.slice(0, 3).map((i) => neurons[i]));
    expect(ranking[0]!.label).toBe(`L1N${ranking[0]!.neuron}`);
    expect(() => rankNeurons(result, () => NaN)).toThrow(/NaN for L1N1, prompt 0/);
    const together = neuronDirectPathPatching(model, { clean, corrupted, layer: 1, pos: END, neurons, tokens: yearTokens, together: true });
    expect(() => rankNeurons(together, metric)).toThrow(/together/);
  });
});

describe("accumulated and decomposed residual stream", () => {
  it("labels components as TransformerLens does", () => {
    const acc = accumulatedResidual(clean, model.config, { incl_mid: true });
    expect(acc.labels).toEqual(["0_pre", "0_mid", "1_pre", "1_mid", "final_post"]);
    expect(acc.values.shape).toEqual([5, 2, 13, 32]);
    expect(accumulatedResidual(clean, model).labels).toEqual(["0_pre", "1_pre", "final_post"]);
    expect(accumulatedResidual(clean, model, { layer: 1, inclMid: true }).labels).toEqual(["0_pre", "0_mid", "1_pre"]);
    const dec = decomposedResidual(clean, model.config);
    expect(dec.labels).toEqual(["embed", "pos_embed", "0_attn_out", "0_mlp_out", "1_attn_out", "1_mlp_out"]);
    expect(dec.values.shape).toEqual([6, 2, 13, 32]);
    const atEnd = accumulatedResidual(clean, model.config, { pos: END, incl_mid: true });
    expect(atEnd.values.shape).toEqual([5, 2, 32]);
    expect(Array.from(atEnd.values.data.subarray(4 * 64 + 32, 4 * 64 + 64))).toEqual(
      Array.from(clean.get("blocks.1.hook_resid_post").data.subarray((13 + END) * 32, (13 + END + 1) * 32)),
    );
  });

  it("decomposed components sum to the final resid_post", () => {
    const dec = decomposedResidual(clean, model.config).values;
    const size = dec.size / dec.shape[0]!;
    const sum = new Float32Array(size);
    for (let c = 0; c < dec.shape[0]!; c++) for (let i = 0; i < size; i++) sum[i] += dec.data[c * size + i]!;
    expectClose(sum, clean.get("blocks.1.hook_resid_post").data, 1e-5, "Σ components");
  });

  it("the accumulated stream's increments are the decomposed components", () => {
    const acc = accumulatedResidual(clean, model.config, { incl_mid: true }).values;
    const dec = decomposedResidual(clean, model.config).values;
    const size = acc.size / acc.shape[0]!;
    const part = (t: Tensor, c: number) => t.data.subarray(c * size, (c + 1) * size);
    const embedSum = part(dec, 0).map((v, i) => v + part(dec, 1)[i]!);
    expectClose(part(acc, 0), embedSum, 1e-6, "0_pre = embed + pos_embed");
    for (let k = 1; k < acc.shape[0]!; k++) {
      const increment = part(acc, k).map((v, i) => v - part(acc, k - 1)[i]!);
      expectClose(increment, part(dec, k + 1), 1e-5, `increment ${k}`);
    }
  });
});
