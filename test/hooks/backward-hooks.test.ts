/**
 * Backward hooks and the runWithGradients API on the tiny model: each hook point's hook fires once,
 * in reverse order of the forward; edits flow on (checked by linearity: the residual stream at a
 * block's resid_mid is a cut, so scaling its gradient scales every gradient before it); bad names
 * and options are typed errors.
 */
import { describe, expect, it } from "vitest";
import { logProbMetric, probabilityMassDifferenceMetric } from "../../src/gpt2/backward/logit-metrics.ts";
import type { HookName } from "../../src/gpt2/hook-names.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { expectClose } from "../helpers/compare.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";
import { thrownBy } from "../helpers/thrown.ts";
import { Gpt2LensError } from "../../src/errors.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const ids = [[464, 3290, 286, 262, 1110, 373], [50256, 317, 2068, 7586, 21831, 18045]];
const metric = probabilityMassDifferenceMetric([1, 2, 3, 4], [1, 1, -1, -1, 1, -1, 1, -1]);

describe("backward hooks", () => {
  it("fire exactly once per hook point, in reverse order of the forward", () => {
    const seen: HookName[] = [];
    const layers: (number | null)[] = [];
    model.runWithGradients(ids, {
      metric,
      backwardHooks: [[() => true, (grad, ctx) => {
        seen.push(ctx.name);
        layers.push(ctx.layer);
        expect(grad.shape).toEqual(ctx.shape);
      }]],
    });
    expect(seen).toEqual([...model.hookNames].reverse());
    expect(layers[seen.indexOf("blocks.1.attn.hook_z")]).toBe(1);
    expect(layers[seen.indexOf("hook_embed")]).toBe(null);
  });

  it("gradients have TransformerLens's shapes", () => {
    const { grads } = model.runWithGradients(ids, { metric, grads: true });
    const { nHeads, dHead, dModel, dMlp, dVocab } = model.config;
    expect(grads.get("blocks.1.attn.hook_z").shape).toEqual([2, 6, nHeads, dHead]);
    expect(grads.get("blocks.0.attn.hook_pattern").shape).toEqual([2, nHeads, 6, 6]);
    expect(grads.get("blocks.0.attn.hook_result").shape).toEqual([2, 6, nHeads, dModel]);
    expect(grads.get("blocks.0.mlp.hook_pre").shape).toEqual([2, 6, dMlp]);
    expect(grads.get("ln_final.hook_scale").shape).toEqual([2, 6, 1]);
    expect(grads.get("logits").shape).toEqual([2, 6, dVocab]);
    expect(grads.get("z", 1)).toBe(grads.get("blocks.1.attn.hook_z"));
  });

  it("keeps only the gradients asked for", () => {
    const { grads, cache } = model.runWithGradients(ids, { metric, grads: ["blocks.0.hook_resid_pre"], cache: ["blocks.0.attn.hook_pattern"] });
    expect(grads.names).toEqual(["blocks.0.hook_resid_pre"]);
    expect(cache.names).toEqual(["blocks.0.attn.hook_pattern"]);
    expect(grads.kind).toBe("gradient");
    thrownBy(() => grads.get("blocks.0.hook_resid_mid"), Gpt2LensError, "not_cached");
  });

  it("an edit flows on: doubling the gradient at blocks.1.hook_resid_mid doubles every gradient before it and none after", () => {
    const cut: HookName = "blocks.1.hook_resid_mid";
    const plain = model.runWithGradients(ids, { metric, grads: true });
    for (const inPlace of [true, false]) {
      const edited = model.runWithGradients(ids, {
        metric, grads: true,
        backwardHooks: [[cut, (grad) => {
          if (!inPlace) return new Tensor(grad.data.map((x) => 2 * x), grad.shape);
          grad.data.forEach((x, i) => (grad.data[i] = 2 * x));
        }]],
      });
      const cutIndex = model.hookNames.indexOf(cut);
      model.hookNames.forEach((name, i) => {
        const factor = i <= cutIndex ? 2 : 1;
        expectClose(edited.grads.get(name).data, plain.grads.get(name).data.map((x) => factor * x), 1e-6, `${name} (${inPlace ? "in place" : "returned"})`);
      });
    }
  });

  it("zeroing ∂/∂hook_attn_out of a block leaves its resid_pre gradient equal to its resid_mid gradient", () => {
    const { grads } = model.runWithGradients(ids, {
      metric, grads: true, backwardHooks: [["blocks.1.hook_attn_out", (grad) => void grad.data.fill(0)]],
    });
    expect(grads.get("blocks.1.hook_resid_pre").data).toEqual(grads.get("blocks.1.hook_resid_mid").data);
    expect(grads.get("blocks.1.attn.hook_q").data.every((x) => x === 0)).toBe(true);
  });

  it("a hook on attn.hook_result routes z's gradient through each head's W_O and gives the same gradients", () => {
    const fused = model.runWithGradients(ids, { metric, grads: true });
    const perHead = model.runWithGradients(ids, { metric, grads: true, backwardHooks: [["blocks.0.attn.hook_result", () => {}]] });
    for (const name of model.hookNames) expectClose(perHead.grads.get(name).data, fused.grads.get(name).data, 1e-5, name);
  });

  it("recomputing mlp.hook_pre in the backward gives the same gradients as keeping it", () => {
    const kept = model.runWithGradients(ids, { metric, grads: true });
    const recomputed = model.runWithGradients(ids, { metric, grads: true, recomputeMlpPre: true });
    for (const name of model.hookNames) expect(recomputed.grads.get(name).data, name).toEqual(kept.grads.get(name).data);
  });

  it("edits of the gradient at masked scores do not reach q and k", () => {
    const plain = model.runWithGradients(ids, { metric, grads: true });
    const edited = model.runWithGradients(ids, {
      metric, grads: true,
      backwardHooks: [["blocks.0.attn.hook_attn_scores", (grad) => {
        const [, , pos, keys] = grad.shape as number[];
        for (let row = 0; row < grad.size / keys; row++) for (let j = (row % pos!) + 1; j < keys!; j++) grad.data[row * keys! + j] = 123;
      }]],
    });
    expect(edited.grads.get("blocks.0.attn.hook_q").data).toEqual(plain.grads.get("blocks.0.attn.hook_q").data);
    expect(edited.grads.get("blocks.0.attn.hook_k").data).toEqual(plain.grads.get("blocks.0.attn.hook_k").data);
  });
});

describe("runWithGradients: bad input", () => {
  it("an unknown backward-hook name is an unknown_hook error naming the nearest names", () => {
    const error = thrownBy(() => model.runWithGradients(ids, { metric, backwardHooks: [["blocks.0.attn.hook_zz" as HookName, () => {}]] }), Gpt2LensError, "unknown_hook");
    expect(error.message).toMatch(/backwardHooks\[0\].*did you mean "blocks\.0\.attn\.hook_z"/);
    thrownBy(() => model.runWithGradients(ids, { metric, grads: ["blocks.7.hook_resid_pre" as HookName] }), Gpt2LensError, "unknown_hook");
  });

  it("a missing or malformed metric, an unknown option and logits in the forward cache are bad_option", () => {
    thrownBy(() => model.runWithGradients(ids, {} as never), Gpt2LensError, "bad_option");
    thrownBy(() => model.runWithGradients(ids, { metric: { kind: "softmax" } } as never), Gpt2LensError, "bad_option");
    thrownBy(() => model.runWithGradients(ids, { metric, start: {} } as never), Gpt2LensError, "bad_option");
    thrownBy(() => model.runWithGradients(ids, { metric, cache: ["logits"] }), Gpt2LensError, "bad_option");
  });

  it("bad metric positions and a wrong-shaped replacement are typed errors", () => {
    thrownBy(() => model.runWithGradients(ids, { metric: logProbMetric(5, { positions: [0] }) }), Gpt2LensError, "bad_metric");
    thrownBy(() => model.runWithGradients(ids, { metric: logProbMetric(5, { positions: [0, 6] }) }), Gpt2LensError, "bad_metric");
    thrownBy(() => model.runWithGradients(ids, { metric: logProbMetric([1, 2, 3]) }), Gpt2LensError, "shape_mismatch");
    thrownBy(() => model.runWithGradients(ids, { metric, backwardHooks: [["blocks.0.hook_resid_pre", () => Tensor.zeros([1])]] }), Gpt2LensError, "hook_wrong_shape");
  });
});
