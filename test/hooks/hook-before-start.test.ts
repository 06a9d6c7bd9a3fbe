/**
 * A run with `start` begins at blocks.{layer}.hook_resid_pre: hooks, cache names and stopAfter
 * named before that would never fire, and are rejected; filters only see what fires.
 */
import { describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookError } from "../../src/hooks/hook-error.ts";
import { blockHook, type HookName } from "../../src/gpt2/hook-names.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const { nLayers, dModel } = model.config;
const start = (layer: number) => ({ layer, residual: Tensor.zeros([1, 3, dModel]) });

function hookError(fn: () => unknown): HookError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HookError);
    return error as HookError;
  }
  throw new Error("expected a HookError");
}

describe("hook points before a run's start", () => {
  it.each([
    [1, "blocks.0.hook_resid_post", "blocks.1.hook_resid_pre"],
    [1, "hook_embed", "blocks.1.hook_resid_pre"],
    [0, "hook_pos_embed", "blocks.0.hook_resid_pre"],
    [nLayers, `blocks.${nLayers - 1}.mlp.hook_post`, "ln_final"],
  ] as const)("start %i: a hook, a cache name or stopAfter on %s is hook_before_start", (layer, name, begin) => {
    let fired = 0;
    const hook = () => void fired++;
    const cases: [string, () => unknown][] = [
      ["hooks[1]", () => model.run([[1]], { start: start(layer), hooks: [["logits", hook], [name as HookName, hook]] })],
      ["cache", () => model.run([[1]], { start: start(layer), cache: ["logits", name as HookName] })],
      ["stopAfter", () => model.runUntil([[1]], name as HookName, { start: start(layer), hooks: [["logits", hook]] })],
    ];
    for (const [where, run] of cases) {
      const error = hookError(run);
      expect(error.code).toBe("hook_before_start");
      expect(error.hookName).toBe(name);
      expect(error.message).toBe(
        `${where}: "${name}" comes before the run's start (start.layer ${layer}: the pass begins at ${begin}), so it would never fire`,
      );
    }
    expect(fired).toBe(0);
  });

  it("the start's own resid_pre and everything after it fire; filters and cache: true take what fires", () => {
    const fired: string[] = [];
    const { cache } = model.run([[1]], {
      start: start(1),
      hooks: [[blockHook(1, "hook_resid_pre"), () => void fired.push("resid_pre")], [() => true, (_, { name }) => void fired.push(name)]],
      cache: true,
    });
    expect(fired[0]).toBe("resid_pre");
    expect(fired[1]).toBe(blockHook(1, "hook_resid_pre"));
    expect(fired.some((name) => name.startsWith("blocks.0.") || name === "hook_embed")).toBe(false);
    expect(cache.has(blockHook(1, "hook_resid_pre"))).toBe(true);
    expect(cache.has("hook_embed")).toBe(false);
    expect(model.runUntil([[1]], blockHook(1, "attn.hook_z"), { start: start(1), cache: [blockHook(1, "attn.hook_z")] }).size).toBe(1);
  });
});
