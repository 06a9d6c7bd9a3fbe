/**
 * The backward pass against central finite differences of an independent float64 forward
 * (test/helpers/float64-gpt2.ts) on the tiny model, at every hook point, over random prompts,
 * metrics and read positions. Each hook point is probed along a random direction u: our
 * ⟨∂metric/∂activation, u⟩ (float32 gradients, summed in float64) against
 * (f(x + εu) − f(x − εu))/2ε in float64 with ε = 1e-4, whose truncation error (≈ ε²·f‴ ≲ 1e-8) and
 * rounding (≈ 1e-16/ε) are far below the float32 gradients' own error. Tolerance: 2e-4 of
 * Σ|g_i·u_i| (float32 rounding through two blocks and the full-vocabulary softmax is ≲ 1e-5 of it).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type LogitMetric, logitDifferenceMetric, logProbMetric, probabilityMassDifferenceMetric } from "../../../src/gpt2/backward/logit-metrics.ts";
import { loadGpt2FromDir } from "../../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../../src/hooks/hooked-gpt2.ts";
import { seededRandom } from "../../../src/hooks/sampling.ts";
import type { Tensor } from "../../../src/tensor/tensor.ts";
import { logitsFloat64, logSumExp64 } from "../../helpers/float64-gpt2.ts";
import { TINY_DIR } from "../../helpers/fixtures.ts";
import { propertyParams } from "../../helpers/property.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const { config } = model;
const weights = model.model.weights;

interface MetricCase {
  readonly label: string;
  readonly metric: LogitMetric;
  /** The same metric of float64 logits rows, written out independently. */
  readonly value64: (rows: Float64Array[]) => number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function metricCase(kind: number, rows: number, positions: "last" | "all" | number[], random: () => number): MetricCase {
  const token = () => Math.floor(random() * config.dVocab);
  const perRow = () => Array.from({ length: rows }, token);
  if (kind === 0) {
    const correct = perRow(), incorrect = perRow();
    return {
      label: "logit difference", metric: logitDifferenceMetric(correct, incorrect, { positions }),
      value64: (l) => mean(l.map((row, r) => row[correct[r]!]! - row[incorrect[r]!]!)),
    };
  }
  if (kind === 1) {
    const target = perRow();
    return { label: "log prob", metric: logProbMetric(target, { positions }), value64: (l) => mean(l.map((row, r) => row[target[r]!]! - logSumExp64(row))) };
  }
  if (kind === 2) {
    const tokens = Array.from({ length: 12 }, token);
    const w = Float64Array.from({ length: rows * tokens.length }, () => (random() < 0.5 ? -1 : 1));
    return {
      label: "probability mass difference", metric: probabilityMassDifferenceMetric(tokens, w, { positions }),
      value64: (l) => mean(l.map((row, r) => {
        const lse = logSumExp64(row);
        return tokens.reduce((acc, t, i) => acc + w[r * tokens.length + i]! * Math.exp(row[t]! - lse), 0);
      })),
    };
  }
  // A general function of the whole logits: mean log-sum-exp at temperature 2.
  return {
    label: "full-logits (tempered log-sum-exp)",
    metric: {
      kind: "logits", positions,
      evaluate(logits) {
        const [n, vocab] = logits.shape as [number, number];
        const dLogits = new Float64Array(logits.size);
        let value = 0;
        for (let r = 0; r < n; r++) {
          const row = Float64Array.from(logits.data.subarray(r * vocab, (r + 1) * vocab), (v) => v / 2);
          const lse = logSumExp64(row);
          value += lse;
          for (let j = 0; j < vocab; j++) dLogits[r * vocab + j] = Math.exp(row[j]! - lse) / 2 / n;
        }
        return { value: value / n, dLogits };
      },
    },
    value64: (l) => mean(l.map((row) => logSumExp64(row.map((v) => v / 2)))),
  };
}

/** ⟨g, u⟩ for a random u against (f(εu) − f(−εu))/2ε, f the float64 metric with a perturbation added at the hook point. */
function expectDirectionalDerivative(g: Tensor, random: () => number, f: (delta: Float64Array) => number, label: string): void {
  const eps = 1e-4;
  const u = Float64Array.from({ length: g.size }, () => random() * 2 - 1);
  let ours = 0, scale = 0;
  for (let i = 0; i < g.size; i++) {
    ours += g.data[i]! * u[i]!;
    scale += Math.abs(g.data[i]! * u[i]!);
  }
  const fd = (f(u.map((x) => x * eps)) - f(u.map((x) => -x * eps))) / (2 * eps);
  expect(Math.abs(ours - fd), `${label}: ours ${ours}, fd ${fd}, scale ${scale}`).toBeLessThanOrEqual(2e-4 * scale + 1e-9);
}

const cases = fc
  .record({
    batch: fc.integer({ min: 1, max: 2 }),
    pos: fc.integer({ min: 1, max: 6 }),
    kind: fc.integer({ min: 0, max: 3 }),
    positionsKind: fc.integer({ min: 0, max: 2 }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  });

describe("backward pass vs float64 finite differences (tiny model, every hook point)", () => {
  it("⟨grad, u⟩ matches the central difference along a random u at every hook point", () => {
    fc.assert(
      fc.property(cases, ({ batch, pos, kind, positionsKind, seed }) => {
        const random = seededRandom(seed);
        const ids = Array.from({ length: batch }, () => Array.from({ length: pos }, () => Math.floor(random() * config.dVocab)));
        const positions = positionsKind === 0 ? "last" : positionsKind === 1 ? "all" : ids.map(() => Math.floor(random() * pos));
        const readRows = positions === "last" ? ids.map((_, b) => b * pos + pos - 1)
          : positions === "all" ? Array.from({ length: batch * pos }, (_, i) => i)
          : positions.map((p, b) => b * pos + p);
        const { metric, value64, label } = metricCase(kind, readRows.length, positions, random);
        const { value, grads } = model.runWithGradients(ids, { metric, grads: true });
        const f = (name?: string, delta?: Float64Array) =>
          value64(logitsFloat64(config, weights, ids, readRows, name ? { name, delta: delta! } : undefined));
        expect(value, `${label}: metric value`).toBeCloseTo(f(), 4);
        expect(grads.names.length, "every hook point has a gradient").toBe(model.hookNames.length);
        for (const name of model.hookNames) expectDirectionalDerivative(grads.get(name), random, (delta) => f(name, delta), `${label} @ ${name}`);
      }),
      propertyParams("backward finite differences", 5),
    );
  }, 300_000);
});

describe("forward hooks count as the identity in the backward", () => {
  it("with a forward hook adding a constant at blocks.0.hook_resid_mid, gradients are those of the shifted forward", () => {
    const random = seededRandom(7);
    const ids = [[464, 3290, 286, 262, 1110], [50256, 317, 2068, 7586, 21831]];
    const rows = [4, 9];
    const shiftName = "blocks.0.hook_resid_mid";
    const shift = Float64Array.from({ length: 2 * 5 * config.dModel }, () => (random() * 2 - 1) * 0.5);
    const { metric, value64 } = metricCase(2, rows.length, "last", random);
    const { value, grads } = model.runWithGradients(ids, {
      metric, grads: true,
      hooks: [[shiftName, (x) => void x.data.forEach((v, i) => (x.data[i] = v + shift[i]!))]],
    });
    const f = (extra?: { name: string; delta: Float64Array }) =>
      value64(logitsFloat64(config, weights, ids, rows, [{ name: shiftName, delta: shift }, ...(extra ? [extra] : [])]));
    expect(value).toBeCloseTo(f(), 5);
    for (const name of ["hook_embed", "blocks.0.attn.hook_q", "blocks.0.hook_mlp_out", "blocks.1.attn.hook_pattern", "ln_final.hook_scale"] as const) {
      expectDirectionalDerivative(grads.get(name), random, (delta) => f({ name, delta }), name);
    }
  });
});
