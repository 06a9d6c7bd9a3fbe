/**
 * Gradient runs that continue a prefix's keys and values (GradientRunOptions.past), on the tiny
 * model: every hook point's gradient equals the same positions' slice of the whole prompt's gradient
 * run (queries' rows for attention scores and patterns), and ⟨gradient, u⟩ matches the central
 * difference of the independent float64 forward (test/helpers/float64-gpt2.ts) over the whole
 * prompt, perturbed at the run's positions only. Tolerances as in finite-differences.test.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { logProbMetric, probabilityMassDifferenceMetric } from "../../../src/gpt2/backward/logit-metrics.ts";
import type { PastKeysValues } from "../../../src/gpt2/forward.ts";
import { blockHook, type HookName } from "../../../src/gpt2/hook-names.ts";
import { loadGpt2FromDir } from "../../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../../src/hooks/hooked-gpt2.ts";
import { seededRandom } from "../../../src/hooks/sampling.ts";
import { sliceAxis } from "../../../src/tensor/indexing.ts";
import { Tensor } from "../../../src/tensor/tensor.ts";
import { expectClose } from "../../helpers/compare.ts";
import { logitsFloat64, logSumExp64 } from "../../helpers/float64-gpt2.ts";
import { TINY_DIR } from "../../helpers/fixtures.ts";
import { propertyParams } from "../../helpers/property.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const { config } = model;
const layers = Array.from({ length: config.nLayers }, (_, layer) => layer);

/** The prefix's keys and values, from a forward run of its ids alone. */
function pastOf(ids: number[][], mask?: number[][]): PastKeysValues {
  const names = layers.flatMap((layer) => [blockHook(layer, "attn.hook_k"), blockHook(layer, "attn.hook_v")]);
  const cache = model.runUntil(ids, blockHook(config.nLayers - 1, "attn.hook_v"), { cache: names, ...(mask ? { attentionMask: mask } : {}) });
  return {
    keys: layers.map((layer) => cache.get(blockHook(layer, "attn.hook_k"))),
    values: layers.map((layer) => cache.get(blockHook(layer, "attn.hook_v"))),
  };
}

/** Attention scores and patterns are [batch, head, query, key]: the run's positions are its queries. */
const positionAxis = (name: HookName) => (name.endsWith("hook_attn_scores") || name.endsWith("hook_pattern") ? 2 : 1);

const cases = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  pos: fc.integer({ min: 2, max: 7 }),
  split: fc.integer({ min: 1, max: 6 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
}).filter(({ pos, split }) => split < pos);

describe("runWithGradients with past keys and values", () => {
  it("gives every hook point's gradient as the slice of the whole prompt's gradient run", () => {
    fc.assert(
      fc.property(cases, ({ batch, pos, split, seed }) => {
        const random = seededRandom(seed);
        const ids = Array.from({ length: batch }, () => Array.from({ length: pos }, () => Math.floor(random() * config.dVocab)));
        const target = Array.from({ length: batch }, () => Math.floor(random() * config.dVocab));
        const full = model.runWithGradients(ids, { metric: logProbMetric(target), grads: true });
        const rest = model.runWithGradients(ids.map((row) => row.slice(split)), { metric: logProbMetric(target), grads: true, past: pastOf(ids.map((row) => row.slice(0, split))) });
        expect(rest.value).toBeCloseTo(full.value, 5);
        for (const name of model.hookNames) {
          const axis = positionAxis(name);
          const expected = sliceAxis(full.grads.get(name), axis, split, pos);
          expect(rest.grads.get(name).shape, name).toEqual(expected.shape);
          expectClose(rest.grads.get(name).data, expected.data, 2e-5, `${name} (split ${split} of ${pos})`);
        }
      }),
      propertyParams("past gradients slice", 6),
    );
  });

  it("matches float64 finite differences of the whole prompt perturbed at the run's positions", () => {
    fc.assert(
      fc.property(cases, ({ batch, pos, split, seed }) => {
        const random = seededRandom(seed);
        const ids = Array.from({ length: batch }, () => Array.from({ length: pos }, () => Math.floor(random() * config.dVocab)));
        const tokens = Array.from({ length: 8 }, () => Math.floor(random() * config.dVocab));
        const weights = Float64Array.from({ length: batch * tokens.length }, () => (random() < 0.5 ? -1 : 1));
        // The metric reads one position of the run per prompt (p of the run is split + p of the prompt).
        const read = ids.map(() => Math.floor(random() * (pos - split)));
        const metric = probabilityMassDifferenceMetric(tokens, weights, { positions: read });
        const rows = read.map((p, b) => b * pos + split + p);
        const value64 = (logits: Float64Array[]) => logits.reduce((acc, row, r) => {
          const lse = logSumExp64(row);
          return acc + tokens.reduce((m, t, i) => m + weights[r * tokens.length + i]! * Math.exp(row[t]! - lse), 0);
        }, 0) / logits.length;
        const { value, grads } = model.runWithGradients(ids.map((row) => row.slice(split)), { metric, grads: true, past: pastOf(ids.map((row) => row.slice(0, split))) });
        expect(value).toBeCloseTo(value64(logitsFloat64(config, model.model.weights, ids, rows)), 5);
        for (const name of model.hookNames) {
          const g = grads.get(name);
          const fullShape = [...g.shape];
          fullShape[positionAxis(name)] = pos;
          const fullSize = fullShape.reduce((a, b) => a * b, 1);
          // Index of each of the run's entries in the whole prompt's tensor: the position axis shifted by split.
          const outer = fullShape.slice(0, positionAxis(name)).reduce((a, b) => a * b, 1);
          const inner = g.size / (outer * g.shape[positionAxis(name)]!);
          const runPos = pos - split;
          const at = (i: number) => {
            const o = Math.floor(i / (runPos * inner));
            const p = Math.floor(i / inner) % runPos;
            return (o * pos + split + p) * inner + (i % inner);
          };
          const u = Float64Array.from({ length: g.size }, () => random() * 2 - 1);
          const eps = 1e-4;
          const f = (sign: number) => {
            const delta = new Float64Array(fullSize);
            u.forEach((x, i) => (delta[at(i)] = sign * eps * x));
            return value64(logitsFloat64(config, model.model.weights, ids, rows, { name, delta }));
          };
          let ours = 0, scale = 0;
          for (let i = 0; i < g.size; i++) {
            ours += g.data[i]! * u[i]!;
            scale += Math.abs(g.data[i]! * u[i]!);
          }
          const fd = (f(1) - f(-1)) / (2 * eps);
          expect(Math.abs(ours - fd), `${name}: ours ${ours}, fd ${fd}, scale ${scale}`).toBeLessThanOrEqual(2e-4 * scale + 1e-9);
        }
      }),
      propertyParams("past gradients finite differences", 4),
    );
  }, 300_000);

  it("continues a padded prefix (mask over past and new positions) as the whole padded run does", () => {
    const ids = [[50256, 50256, 464, 3290, 286, 262, 1110], [50256, 317, 2068, 7586, 21831, 625, 262]];
    const mask = [[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]];
    const split = 3;
    const metric = logProbMetric([262, 1110]);
    const full = model.runWithGradients(ids, { metric, grads: true, attentionMask: mask });
    const rest = model.runWithGradients(ids.map((row) => row.slice(split)), {
      metric, grads: true, attentionMask: mask, past: pastOf(ids.map((row) => row.slice(0, split)), mask.map((row) => row.slice(0, split))),
    });
    expect(rest.value).toBeCloseTo(full.value, 5);
    for (const name of ["hook_embed", "hook_pos_embed", "blocks.0.attn.hook_k", "blocks.1.attn.hook_pattern", "blocks.0.hook_resid_pre"] as const) {
      expectClose(rest.grads.get(name).data, sliceAxis(full.grads.get(name), positionAxis(name), split, ids[0]!.length).data, 2e-5, name);
    }
  });

  it("rejects past keys and values of the wrong shape", () => {
    const zeros = (shape: number[]) => new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    const past = { keys: layers.map(() => zeros([2, 3, config.nHeads, config.dHead])), values: layers.map(() => zeros([2, 3, config.nHeads, config.dHead])) };
    expect(() => model.runWithGradients([[1, 2]], { metric: logProbMetric(3), past })).toThrow(/past keys of layer 0 have shape \[2, 3, 4, 8\], expected \[1, 3, 4, 8\]/);
  });
});
