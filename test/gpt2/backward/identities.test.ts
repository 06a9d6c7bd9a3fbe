/**
 * Identities the gradients must satisfy whatever the weights: where the forward copies or sums a
 * tensor, the gradients are equal; LayerNorm's shift invariance makes the final residual's gradient
 * sum to zero per row (and its near scale invariance makes ⟨x, grad⟩ ≈ 0); a metric of the softmax
 * alone has logit gradients summing to zero per row. Padded batches give each row's own gradients.
 */
import { describe, expect, it } from "vitest";
import { headInputGradient, mlpInputGradient } from "../../../src/gpt2/backward/input-gradients.ts";
import { logitDifferenceMetric, logProbMetric, probabilityMassDifferenceMetric } from "../../../src/gpt2/backward/logit-metrics.ts";
import { blockHook } from "../../../src/gpt2/hook-names.ts";
import { loadGpt2FromDir } from "../../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../../src/hooks/hooked-gpt2.ts";
import { expectClose } from "../../helpers/compare.ts";
import { TINY_DIR } from "../../helpers/fixtures.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const { nLayers, nHeads, dModel, dVocab } = model.config;
const ids = [[464, 3290, 286, 262, 1110], [50256, 317, 2068, 7586, 21831]];
const metrics = [
  probabilityMassDifferenceMetric([10, 20, 30], [1, -1, 1, -1, 1, -1]),
  logProbMetric([262, 11]),
  logitDifferenceMetric(3290, 286, { positions: "all" }),
];

describe("gradient identities", () => {
  for (const metric of metrics) {
    it(`copies have equal gradients; sums split them (${metric.tokens.length} tokens, positions ${String(metric.positions ?? "last")})`, () => {
      const { grads } = model.runWithGradients(ids, { metric, grads: true });
      const embed = grads.get("blocks.0.hook_resid_pre").data;
      expect(grads.get("hook_embed").data).toEqual(embed);
      expect(grads.get("hook_pos_embed").data).toEqual(embed);
      for (let layer = 0; layer < nLayers; layer++) {
        const at = (s: Parameters<typeof blockHook>[1]) => grads.get(blockHook(layer, s)).data;
        expect(at("hook_attn_out")).toEqual(at("hook_resid_mid"));
        expect(at("hook_mlp_out")).toEqual(at("hook_resid_post"));
        if (layer + 1 < nLayers) expect(grads.get(blockHook(layer + 1, "hook_resid_pre")).data).toEqual(at("hook_resid_post"));
        const result = at("attn.hook_result");
        const attnOut = at("hook_attn_out");
        for (let r = 0; r < attnOut.length / dModel; r++) {
          for (let h = 0; h < nHeads; h++) {
            expect(result.subarray((r * nHeads + h) * dModel, (r * nHeads + h + 1) * dModel)).toEqual(attnOut.subarray(r * dModel, (r + 1) * dModel));
          }
        }
      }
    });
  }

  it("the last residual's gradient sums to 0 per row (LayerNorm centres) and is ⟂ to the residual (up to ε)", () => {
    const last = blockHook(nLayers - 1, "hook_resid_post");
    const { grads, cache } = model.runWithGradients(ids, { metric: metrics[0]!, grads: [last], cache: [last] });
    const g = grads.get(last).data, x = cache.get(last).data;
    for (let r = 0; r < g.length / dModel; r++) {
      let sum = 0, dot = 0, norm = 0, xNorm = 0;
      for (let j = r * dModel; j < (r + 1) * dModel; j++) {
        sum += g[j]!;
        dot += g[j]! * x[j]!;
        norm += Math.abs(g[j]!);
        xNorm += x[j]! ** 2;
      }
      expect(Math.abs(sum), `row ${r}`).toBeLessThanOrEqual(1e-5 * norm + 1e-12);
      expect(Math.abs(dot), `row ${r}`).toBeLessThanOrEqual(1e-4 * norm * Math.sqrt(xNorm) + 1e-12);
    }
  });

  it("a softmax metric's logit gradient sums to 0 per row, and is zero at rows it does not read", () => {
    const { grads } = model.runWithGradients(ids, { metric: metrics[1]!, grads: ["logits"] });
    const g = grads.get("logits");
    const pos = ids[0]!.length;
    for (let row = 0; row < g.size / dVocab; row++) {
      let sum = 0, norm = 0;
      for (let j = row * dVocab; j < (row + 1) * dVocab; j++) {
        sum += g.data[j]!;
        norm += Math.abs(g.data[j]!);
      }
      if (row % pos !== pos - 1) expect(norm, `row ${row}`).toBe(0);
      else expect(Math.abs(sum), `row ${row}`).toBeLessThanOrEqual(1e-5 * norm);
    }
  });
});

describe("receiver input gradients (for edge attribution)", () => {
  it("Σ over heads and q/k/v of headInputGradient = ∂/∂resid_pre − ∂/∂resid_mid; mlpInputGradient = ∂/∂resid_mid − ∂/∂resid_post", () => {
    const { grads, cache } = model.runWithGradients(ids, { metric: metrics[0]!, grads: true, cache: true });
    for (let layer = 0; layer < nLayers; layer++) {
      const ln = (kind: "ln1" | "ln2") => ({ normalized: cache.get(blockHook(layer, `${kind}.hook_normalized`)), scale: cache.get(blockHook(layer, `${kind}.hook_scale`)) });
      const sum = new Float64Array(grads.get(blockHook(layer, "hook_resid_pre")).size);
      for (let head = 0; head < nHeads; head++) {
        for (const input of ["q", "k", "v"] as const) {
          const g = headInputGradient(model.model, layer, head, input, grads.get(blockHook(layer, `attn.hook_${input}`)), ln("ln1"));
          g.data.forEach((x, i) => (sum[i] += x));
        }
      }
      const pre = grads.get(blockHook(layer, "hook_resid_pre")).data, mid = grads.get(blockHook(layer, "hook_resid_mid")).data;
      expectClose(sum, pre.map((x, i) => x - mid[i]!), 1e-4, `layer ${layer} heads`);
      const post = grads.get(blockHook(layer, "hook_resid_post")).data;
      const mlpIn = mlpInputGradient(model.model, layer, grads.get(blockHook(layer, "mlp.hook_pre")), ln("ln2"));
      expectClose(mlpIn.data, mid.map((x, i) => x - post[i]!), 1e-4, `layer ${layer} mlp`);
    }
  });
});

describe("padded batches", () => {
  it("each row of a padded batch gets the gradients of the row run alone (left and right padding)", () => {
    const prompts = ["The war lasted from", "Hello"];
    for (const paddingSide of ["left", "right"] as const) {
      const padded = model.toTokens(prompts, { paddingSide });
      const together = model.runWithGradients(padded, { metric: logProbMetric([262, 11]), grads: true });
      prompts.forEach((prompt, b) => {
        const alone = model.runWithGradients(prompt, { metric: logProbMetric(262 + b * (11 - 262)), grads: true });
        const pos = alone.tokens.pos;
        const offset = paddingSide === "left" ? padded.pos - pos : 0;
        for (const name of ["blocks.0.hook_resid_pre", "blocks.1.attn.hook_z", "blocks.0.mlp.hook_pre", "ln_final.hook_scale"] as const) {
          const whole = together.grads.get(name);
          const width = whole.size / (padded.batch * padded.pos);
          const rows = whole.data.subarray((b * padded.pos + offset) * width, (b * padded.pos + offset + pos) * width);
          // The metric is a mean over the batch's rows: each row's share is 1/batch of its own.
          expectClose(rows.map((x) => x * padded.batch), alone.grads.get(name).data, 2e-5, `${paddingSide} row ${b} ${name}`);
        }
      });
    }
  });
});
