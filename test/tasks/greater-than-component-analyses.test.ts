/**
 * The component analyses (issue 15 §§3–6) against independent computations: hooked runs' cached
 * activations and the raw weights, reduced by hand here; PCA against ml-matrix's symmetric
 * eigendecomposition of the covariance.
 */
import { EigenvalueDecomposition, Matrix } from "ml-matrix";
import { beforeAll, describe, expect, it } from "vitest";
import { blockHook, type HookName } from "../../src/gpt2/hook-names.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { cumulativeNeuronPatching } from "../../src/patching/neuron-cumulative.ts";
import { neuronDirectPathPatching } from "../../src/patching/neuron-attribution.ts";
import { collectPathActivations, neuronCache, type PathActivations } from "../../src/patching/path-activations.ts";
import { attentionToYyByYy, meanAttentionPatterns } from "../../src/tasks/greater-than/attention-analysis.ts";
import { GT_POSITIONS, makeGreaterThanDataset, type GreaterThanDataset } from "../../src/tasks/greater-than/dataset.ts";
import { headLogitLens } from "../../src/tasks/greater-than/head-logit-lens.ts";
import { neuronAnalysis } from "../../src/tasks/greater-than/neuron-analysis.ts";
import { topNeuronsOfMlp, yearLogitDifference } from "../../src/tasks/greater-than/top-neurons.ts";
import { yearPca, yearPcaPrompts } from "../../src/tasks/greater-than/year-pca.ts";
import { yearTokenIds } from "../../src/tasks/greater-than/years.ts";
import { BUNDLED_MODEL_DIR } from "../helpers/fixtures.ts";

const { YY, END } = GT_POSITIONS;
const years = yearTokenIds();
let model: HookedGpt2;
let data: GreaterThanDataset;
let clean: PathActivations;
let corrupted: PathActivations;

beforeAll(async () => {
  model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
  data = makeGreaterThanDataset({ n: 24, seed: 5 });
  clean = collectPathActivations(model, data.tokens);
  corrupted = collectPathActivations(model, data.corruptedTokens);
});

/** Mean of rows grouped by yy, ascending yy, each row centred when asked. */
function byYy(rowOf: (b: number) => number[], yy: Int32Array, centre: boolean): number[][] {
  const groups = [...new Set(yy)].sort((a, b) => a - b);
  return groups.map((g) => {
    const members = Array.from(yy.keys()).filter((b) => yy[b] === g);
    const rows = members.map(rowOf);
    const mean = rows[0]!.map((_, j) => rows.reduce((a, r) => a + r[j]!, 0) / rows.length);
    if (!centre) return mean;
    const m = mean.reduce((a, v) => a + v, 0) / mean.length;
    return mean.map((v) => v - m);
  });
}

function expectClose(actual: readonly (number | null)[][], expected: readonly (number | null)[][], digits: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, r) => row.forEach((v, c) => {
    const e = expected[r]![c]!;
    if (e === null) expect(v).toBeNull();
    else expect(v!, `[${r}][${c}]`).toBeCloseTo(e, digits);
  }));
}

describe("attention (§3)", () => {
  it("mean patterns and END → YY per YY equal a hooked run's hook_pattern averaged by hand", () => {
    const heads = [{ layer: 0, head: 1 }, { layer: 2, head: 3 }];
    const names = heads.map((h) => blockHook(h.layer, "attn.hook_pattern"));
    const cache = model.run(data.tokens, { cache: names }).cache;
    const n = data.tokens.batch;
    const nHeads = model.config.nHeads;
    const patterns = meanAttentionPatterns(model.model, clean, heads);
    const byYyResult = attentionToYyByYy(model.model, clean, heads, data.yy);
    heads.forEach((h, i) => {
      const p = cache.get(names[i]!).data; // [b, head, q, k]
      const at = (b: number, q: number, k: number) => p[((b * nHeads + h.head) * 13 + q) * 13 + k]!;
      const expected = Array.from({ length: 13 }, (_, q) =>
        Array.from({ length: 13 }, (_, k) => (k > q ? null : Array.from({ length: n }, (_, b) => at(b, q, k)).reduce((a, v) => a + v, 0) / n)),
      );
      expect(patterns.heads[i]!.head).toBe(`L${h.layer}H${h.head}`);
      expectClose(patterns.heads[i]!.pattern, expected, 5);
      const lines = byYy((b) => [at(b, END, YY)], data.yy, false).map((r) => r[0]!);
      expect(byYyResult.heads[i]).toBe(`L${h.layer}H${h.head}`);
      byYyResult.attention[i]!.forEach((v, g) => expect(v).toBeCloseTo(lines[g]!, 5));
    });
    expect(patterns.positions).toHaveLength(13);
    expect(Symbol.for("Jupyter.display") in patterns).toBe(true);
  });
});

describe("head logit lens (§4)", () => {
  it("equals (hook_result at END, centred, / ln_final.hook_scale) · (γ ⊙ W_U[:, year]) from a hooked run and the raw weights", () => {
    const heads = [{ layer: 0, head: 0 }, { layer: 1, head: 2 }];
    const names: HookName[] = [...heads.map((h) => blockHook(h.layer, "attn.hook_result")), "ln_final.hook_scale"];
    const cache = model.run(data.tokens, { cache: names }).cache;
    const { dModel: d, nHeads } = model.config;
    const w = model.model.weights;
    const lens = headLogitLens(model.model, clean, heads, END, data.yy, years);
    heads.forEach((h, i) => {
      const result = cache.get(names[i]!).data;
      const scale = cache.get("ln_final.hook_scale").data;
      const row = (b: number) => {
        const v = result.subarray(((b * 13 + END) * nHeads + h.head) * d, ((b * 13 + END) * nHeads + h.head + 1) * d);
        const mean = v.reduce((a, x) => a + x, 0) / d;
        return years.map((token) => {
          let acc = 0;
          for (let j = 0; j < d; j++) acc += (v[j]! - mean) * w.lnFinalWeight[j]! * w.unembedTransposed[token * d + j]!;
          return acc / scale[b * 13 + END]!;
        });
      };
      expect(lens[i]!.head).toBe(`L${h.layer}H${h.head}`);
      expectClose(lens[i]!.year_logits, byYy(row, data.yy, true), 4);
    });
  });
});

describe("PCA of year representations (§5)", () => {
  it("explained variance and PC coordinates match an eigendecomposition of the covariance of hooked-run activations", () => {
    const prompts = yearPcaPrompts("war", 17);
    expect(Array.from(prompts.yy)).toEqual(Array.from({ length: 97 }, (_, i) => i + 2));
    expect(new Set(prompts.nouns)).toEqual(new Set(["war"]));
    expect(new Set(prompts.xx)).toEqual(new Set([17]));
    // The bundled model's circuit (README): heads L2H3, L4H1, L5H3, then MLP5.
    const mlp = 5;
    const heads = [{ layer: 2, head: 3 }, { layer: 4, head: 1 }, { layer: 5, head: 3 }];
    const control = { layer: 3, head: 0 };
    const results = [...new Set([...heads, control].map((h) => h.layer))].map((layer) => blockHook(layer, "attn.hook_result"));
    const cache = model.run(prompts.tokens, { cache: ["hook_embed", blockHook(mlp, "hook_resid_mid"), ...results] }).cache;
    const pca = yearPca(model, { circuitHeads: heads, firstCircuitMlp: mlp, controlHead: control });
    const { dModel: d, nHeads } = model.config;
    const rowsAt = (name: HookName, pos: number) =>
      Array.from({ length: 97 }, (_, b) => Array.from(cache.get(name).data.subarray((b * 13 + pos) * d, (b * 13 + pos + 1) * d)));
    // hook_result is [batch, pos, head, d_model]: each head's output from the hooked forward pass.
    const headRows = (layer: number, head: number) =>
      Array.from({ length: 97 }, (_, b) => {
        const at = ((b * 13 + END) * nHeads + head) * d;
        return Array.from(cache.get(blockHook(layer, "attn.hook_result")).data.subarray(at, at + d));
      });
    const perHead = heads.map((h) => headRows(h.layer, h.head));
    const summed = perHead[0]!.map((row, b) => row.map((_, j) => perHead.reduce((sum, rows) => sum + rows[b]![j]!, 0)));
    for (const [panelName, rows] of [
      ["mlp_input", rowsAt(blockHook(mlp, "hook_resid_mid"), END)], ["yy_embeddings", rowsAt("hook_embed", YY)],
      ["circuit_heads", summed], ["control_head", headRows(control.layer, control.head)],
    ] as const) {
      const panel = pca.panels.find((p) => p.name === panelName)!;
      const x = new Matrix(rows);
      const centred = x.clone().subRowVector(x.mean("column"));
      const covariance = centred.transpose().mmul(centred).div(96);
      const evd = new EigenvalueDecomposition(covariance, { assumeSymmetric: true });
      const order = evd.realEigenvalues.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
      const total = evd.realEigenvalues.reduce((a, v) => a + v, 0);
      expect(panel.explained_variance![0]).toBeCloseTo(order[0]![0] / total, 4);
      expect(panel.explained_variance![1]).toBeCloseTo(order[1]![0] / total, 4);
      for (const component of [0, 1]) {
        const vector = evd.eigenvectorMatrix.getColumn(order[component]![1]);
        const projected = centred.mmul(Matrix.columnVector(vector)).getColumn(0);
        const sign = Math.sign(projected[0]!) === Math.sign(panel.points![0]![component]) ? 1 : -1;
        projected.forEach((v, b) => expect(panel.points![b]![component]).toBeCloseTo(sign * v, 3));
      }
    }
    expect(pca.panels.map((p) => p.name)).toEqual(["mlp_input", "circuit_heads", "control_head", "yy_embeddings"]);
    expect(pca.panels.every((p) => p.points?.length === 97)).toBe(true);
  });

  it("says why a panel is empty", () => {
    const pca = yearPca(model, { circuitHeads: [], firstCircuitMlp: null, controlHead: null });
    expect(pca.panels.slice(0, 3).map((p) => p.missing)).toEqual(["the circuit has no MLP", "the circuit has no heads", "every head is in the circuit"]);
    expect(pca.panels[3]!.points).toHaveLength(97);
  });
});

describe("neurons (§6)", () => {
  const layer = 1;

  it("the top k patched together equal a hooked forward with those neurons' hook_post at END set to corrupted values, through the direct path", () => {
    const analysis = neuronAnalysis(model.model, clean, corrupted, { layer, pos: END, yy: data.yy, yearTokens: years, togetherCount: 6 });
    const neurons = analysis.together.neurons;
    expect(neurons).toEqual(analysis.ranking.slice(0, 6).map((r) => r.neuron));
    const post = blockHook(layer, "mlp.hook_post");
    const mlpOut = blockHook(layer, "hook_mlp_out");
    const corruptedPost = model.run(data.corruptedTokens, { cache: [post] }).cache.get(post);
    const dMlp = model.config.dMlp;
    const d = model.config.dModel;
    const cleanRun = model.run(data.tokens, { cache: [mlpOut] });
    const patchedRun = model.run(data.tokens, {
      cache: [mlpOut],
      hooks: [[post, (value) => {
        for (let b = 0; b < data.tokens.batch; b++) {
          for (const n of neurons) value.data[(b * 13 + END) * dMlp + n] = corruptedPost.data[(b * 13 + END) * dMlp + n]!;
        }
      }]],
    });
    // Only the direct path: the MLP output's change at END is added to the final residual stream.
    const delta = new Float32Array(data.tokens.batch * d);
    for (let b = 0; b < data.tokens.batch; b++) {
      for (let j = 0; j < d; j++) {
        const at = (b * 13 + END) * d + j;
        delta[b * d + j] = patchedRun.cache.get(mlpOut).data[at]! - cleanRun.cache.get(mlpOut).data[at]!;
      }
    }
    const last = blockHook(model.config.nLayers - 1, "hook_resid_post");
    const direct = model.run(data.tokens, {
      hooks: [[last, (value) => {
        for (let b = 0; b < data.tokens.batch; b++) for (let j = 0; j < d; j++) value.data[(b * 13 + END) * d + j] += delta[b * d + j]!;
      }]],
    });
    const vocab = model.config.dVocab;
    const metric = yearLogitDifference(data.yy);
    let total = 0;
    for (let b = 0; b < data.tokens.batch; b++) {
      const at = (b * 13 + END) * vocab;
      const changes = Float32Array.from(years, (t) => direct.logits.data[at + t]! - cleanRun.logits.data[at + t]!);
      total += metric(changes, b);
    }
    expect(analysis.together.together).toBeCloseTo(total / data.tokens.batch, 4);
    expect(analysis.together.together).not.toBe(0);

    // The cumulative line at k and at its last point equals patching those neurons together.
    expect(analysis.cumulative.effect[5]).toBeCloseTo(analysis.together.together, 5);
    const all = analysis.ranking.map((r) => r.neuron);
    expect(analysis.cumulative.n).toEqual(all.map((_, i) => i + 1));
    expect(all.length).toBe(Math.min(200, dMlp));
    const jointly = neuronDirectPathPatching(model.model, {
      clean: neuronCache(model.model, clean, layer), corrupted: neuronCache(model.model, corrupted, layer), layer, pos: END,
      neurons: all, tokens: years, ln: "recompute", together: true,
    }).values.data;
    let joint = 0;
    for (let b = 0; b < data.tokens.batch; b++) joint += metric(jointly.subarray(b * 100, (b + 1) * 100), b);
    expect(analysis.cumulative.effect[all.length - 1]).toBeCloseTo(joint / data.tokens.batch, 4);
  });

  it("DLA heatmaps equal hook_post × (centred W_out row ⊙ γ · W_U) / ln_final scale from a hooked run, by YY", () => {
    const analysis = neuronAnalysis(model.model, clean, corrupted, { layer, pos: END, yy: data.yy, yearTokens: years, heatmapNeurons: 2, cumulativeMax: 5 });
    const post = blockHook(layer, "mlp.hook_post");
    const cache = model.run(data.tokens, { cache: [post, "ln_final.hook_scale"] }).cache;
    const postCorr = model.run(data.corruptedTokens, { cache: [post] }).cache.get(post);
    const { dModel: d, dMlp } = model.config;
    const w = model.model.weights;
    for (const h of analysis.heatmaps) {
      const row = w.blocks[layer]!.mlpOutWeight.subarray(h.neuron * d, (h.neuron + 1) * d);
      const mean = row.reduce((a, v) => a + v, 0) / d;
      const weights = years.map((token) => {
        let acc = 0;
        for (let j = 0; j < d; j++) acc += (row[j]! - mean) * w.lnFinalWeight[j]! * w.unembedTransposed[token * d + j]!;
        return acc;
      });
      const scaleAt = (b: number) => cache.get("ln_final.hook_scale").data[b * 13 + END]!;
      const act = (t: Float32Array, b: number) => t[(b * 13 + END) * dMlp + h.neuron]!;
      expectClose(h.dla, byYy((b) => weights.map((m) => (act(cache.get(post).data, b) * m) / scaleAt(b)), data.yy, true), 4);
      expectClose(h.patching, byYy((b) => weights.map((m) => ((act(postCorr.data, b) - act(cache.get(post).data, b)) * m) / scaleAt(b)), data.yy, true), 4);
    }
    expect(analysis.cumulative.n).toEqual([1, 2, 3, 4, 5]);
  });

  it("a given ranking (the report's top_neurons, ranked once) gives the same analysis; a ranking of another MLP or too short is refused", () => {
    const options = { layer, pos: END, yy: data.yy, yearTokens: years, heatmapNeurons: 2, cumulativeMax: 5 };
    const ranking = topNeuronsOfMlp(model.model, clean, corrupted, data.yy, layer, END, years, 8);
    expect(JSON.stringify(neuronAnalysis(model.model, clean, corrupted, { ...options, ranking })))
      .toBe(JSON.stringify(neuronAnalysis(model.model, clean, corrupted, options)));
    const other = topNeuronsOfMlp(model.model, clean, corrupted, data.yy, 0, END, years, 8);
    expect(() => neuronAnalysis(model.model, clean, corrupted, { ...options, ranking: other })).toThrow(expect.objectContaining({ code: "bad_option" }));
    expect(() => neuronAnalysis(model.model, clean, corrupted, { ...options, cumulativeMax: 9, ranking })).toThrow(/at least 9/);
  });

  it("cumulative patching with ln_final frozen is the running sum of single effects", () => {
    const options = {
      clean: neuronCache(model.model, clean, layer), corrupted: neuronCache(model.model, corrupted, layer), layer, pos: END,
      neurons: [7, 3, 42, 11], tokens: years, ln: "frozen" as const,
    };
    const cumulative = cumulativeNeuronPatching(model.model, options).values.data;
    const singles = neuronDirectPathPatching(model.model, options).values.data;
    const per = data.tokens.batch * 100;
    for (let i = 0; i < per; i += 37) {
      let running = 0;
      for (let n = 0; n < 4; n++) {
        running += singles[n * per + i]!;
        expect(cumulative[n * per + i]).toBeCloseTo(running, 5);
      }
    }
  });
});
