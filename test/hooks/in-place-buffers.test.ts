/**
 * The forward reuses buffers of activations no hook or cache holds (gelu over mlp.hook_pre, softmax
 * over hook_attn_scores, LayerNorm affine over hook_normalized, the residual sums over attn_out and
 * mlp_out). Whatever is cached or hooked keeps
 * its own values, and the results do not depend on what is cached.
 */
import { describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { blockHook, type HookName } from "../../src/gpt2/hook-names.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { geluNew } from "../../src/tensor/activation.ts";
import { layerNormNormalize, layerNormScale } from "../../src/tensor/layer-norm.ts";
import { softmaxLastAxis } from "../../src/tensor/softmax.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const prompts = [[5, 17, 300, 9, 1000, 42], [7, 7, 7, 1, 2, 3]];
const pre = blockHook(1, "mlp.hook_pre"), post = blockHook(1, "mlp.hook_post");
const scores = blockHook(0, "attn.hook_attn_scores"), pattern = blockHook(0, "attn.hook_pattern");
const normalized = blockHook(1, "ln2.hook_normalized"), residMid = blockHook(1, "hook_resid_mid");

describe("buffers reused in place", () => {
  const all = model.run(prompts, { cache: true });

  it("leave cached activations intact: post = gelu(pre), pattern = softmax(scores), normalized = LN(resid_mid)", () => {
    expect(Array.from(all.cache.get(post).data)).toEqual(Array.from(geluNew(all.cache.get(pre), model.model.backend.kernels).data));
    expect(Array.from(all.cache.get(pattern).data)).toEqual(Array.from(softmaxLastAxis(all.cache.get(scores), model.model.backend.kernels).data));
    expect(all.cache.get(scores).data.some((v) => v === -Infinity)).toBe(true);
    const attnOut = all.cache.get(blockHook(1, "hook_attn_out")).data, residPre = all.cache.get(blockHook(1, "hook_resid_pre")).data;
    expect(Array.from(all.cache.get(residMid).data)).toEqual(Array.from(attnOut, (v, i) => Math.fround(v + residPre[i]!)));
    const x = all.cache.get(residMid);
    const { kernels } = model.model.backend;
    const scale = layerNormScale(x, model.config.layerNormEps, kernels);
    expect(Array.from(all.cache.get(normalized).data)).toEqual(Array.from(layerNormNormalize(x, scale, undefined, kernels).data));
  });

  it("give the same results whatever is cached or hooked", () => {
    for (const names of [[post], [pattern], [pre, pattern], ["ln_final.hook_normalized"], [residMid], [blockHook(0, "hook_mlp_out")]] as HookName[][]) {
      const run = model.run(prompts, { cache: names });
      expect(Array.from(run.logits.data)).toEqual(Array.from(all.logits.data));
      for (const name of names) expect(Array.from(run.cache.get(name).data)).toEqual(Array.from(all.cache.get(name).data));
    }
    const seen: Tensor[] = [];
    const hooked = model.run(prompts, { hooks: [[pre, (t) => void seen.push(t)]] });
    expect(Array.from(hooked.logits.data)).toEqual(Array.from(all.logits.data));
    expect(Array.from(seen[0]!.data)).toEqual(Array.from(all.cache.get(pre).data));
  });

  it("normalize with the scale a hook returns, on every LayerNorm", () => {
    const { kernels } = model.model.backend;
    for (const [input, prefix] of [[blockHook(0, "hook_resid_pre"), "blocks.0.ln1."], [residMid, "blocks.1.ln2."], [blockHook(1, "hook_resid_post"), "ln_final."]] as const) {
      const scaleName = `${prefix}hook_scale` as HookName, normalizedName = `${prefix}hook_normalized` as HookName;
      const run = model.run(prompts, { cache: [input, scaleName, normalizedName], hooks: [[scaleName, (t) => new Tensor(t.data.map((v, i) => v * (1 + (i % 3))), t.shape)]] });
      const expected = layerNormNormalize(run.cache.get(input), run.cache.get(scaleName), undefined, kernels);
      expect(run.cache.get(scaleName).data.some((v, i) => v !== all.cache.get(scaleName).data[i])).toBe(true);
      expect(Array.from(run.cache.get(normalizedName).data)).toEqual(Array.from(expected.data));
    }
  });
});
