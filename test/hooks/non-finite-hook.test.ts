/**
 * A hook that writes NaN or ±Infinity is named when the run's output is then not finite, instead of
 * the kernel that later trips over the value ("softmax over a row that is entirely -Infinity").
 */
import { describe, expect, it } from "vitest";
import { HookError } from "../../src/hooks/hook-error.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";
import { thrownBy } from "../helpers/thrown.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const tokens = [
  [1, 2, 3, 4],
  [5, 6, 7, 8],
];

const thrown = (fn: () => unknown): HookError => thrownBy(fn, HookError);

describe("a hook introducing a non-finite value", () => {
  it("that makes the run fail later is named, with the element and the later failure", () => {
    const error = thrown(() =>
      model.run(tokens, {
        hooks: [
          ["hook_embed", () => undefined],
          ["blocks.0.hook_resid_pre", (x) => void (x.data[1 * 4 * 32 + 2 * 32 + 5] = NaN)],
        ],
      }),
    );
    expect(error.code).toBe("hook_non_finite");
    expect(error.hookName).toBe("blocks.0.hook_resid_pre");
    expect(error.message).toBe(
      'hook on "blocks.0.hook_resid_pre" left NaN at [1, 2, 5] in its value; the run then failed: softmax over a row that is entirely -Infinity',
    );
    expect((error.cause as Error).message).toBe("softmax over a row that is entirely -Infinity");
  });

  it("whose replacement makes the logits non-finite is named", () => {
    const error = thrown(() =>
      model.run(tokens, {
        hooks: [["ln_final.hook_normalized", (x) => new Tensor(new Float32Array(x.data.length).fill(Infinity), x.shape)]],
      }),
    );
    expect(error.code).toBe("hook_non_finite");
    expect(error.message).toBe('hook on "ln_final.hook_normalized" left Infinity at [0, 0, 0] in its value, and the run\'s logits are not finite');
  });

  it("names the first such hook point, not a later one", () => {
    const poison = (x: Tensor) => void x.data.fill(NaN);
    const error = thrown(() => model.run(tokens, { hooks: [["blocks.1.hook_mlp_out", poison], ["blocks.0.mlp.hook_post", poison]] }));
    expect(error.hookName).toBe("blocks.0.mlp.hook_post");
  });

  it("does not blame a hook on the attention scores for the mask's −∞, and masking with −∞ stays allowed", () => {
    const plain = model.run(tokens).logits;
    const identity = model.run(tokens, { hooks: [["blocks.0.attn.hook_attn_scores", () => undefined]] }).logits;
    expect(identity.data).toEqual(plain.data);
    // Mask key 0 for queries ≥ 1: every row keeps a finite score, so the run succeeds.
    const masked = model.run(tokens, {
      hooks: [["blocks.0.attn.hook_attn_scores", (s) => {
        const [batch, heads, q, k] = s.shape as [number, number, number, number];
        for (let i = 0; i < batch * heads; i++) for (let r = 1; r < q; r++) s.data[(i * q + r) * k] = -Infinity;
      }]],
    }).logits;
    expect(masked.data.every(Number.isFinite)).toBe(true);
  });

  it("an error thrown by a hook itself is passed on unchanged", () => {
    const own = new Error("mine");
    let caught: unknown;
    try {
      model.run(tokens, { hooks: [["hook_embed", (x) => void x.data.fill(NaN)], ["blocks.0.hook_resid_pre", () => { throw own; }]] });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBe(own);
  });
});
