/**
 * actName (TransformerLens's get_act_name) and the cache's short form `cache.get("pattern", 0)`.
 * Expected names are TransformerLens's own (utils.get_act_name and its docstring examples).
 */
import fc from "fast-check";
import { inspect } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { actName, BLOCK_HOOK_SUFFIXES, blockHook, hookNames, type ActNameInput, type LayerType } from "../../src/gpt2/hook-names.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookError } from "../../src/hooks/hook-error.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

describe("actName", () => {
  const cases: [ActNameInput, number | undefined, LayerType | undefined, string][] = [
    ["pattern", 0, undefined, "blocks.0.attn.hook_pattern"],
    ["embed", undefined, undefined, "hook_embed"],
    ["pos_embed", undefined, undefined, "hook_pos_embed"],
    ["k", 6, "a", "blocks.6.attn.hook_k"],
    ["scale", 4, "ln1", "blocks.4.ln1.hook_scale"],
    ["normalized", 3, "ln2", "blocks.3.ln2.hook_normalized"],
    ["pre", 5, undefined, "blocks.5.mlp.hook_pre"],
    ["post", 5, "m", "blocks.5.mlp.hook_post"],
    ["resid_pre", 3, undefined, "blocks.3.hook_resid_pre"],
    ["resid_mid", 3, "b", "blocks.3.hook_resid_mid"],
    ["resid_post", 11, undefined, "blocks.11.hook_resid_post"],
    ["attn_out", 1, undefined, "blocks.1.hook_attn_out"],
    ["mlp_out", 1, undefined, "blocks.1.hook_mlp_out"],
    ["q", 2, undefined, "blocks.2.attn.hook_q"],
    ["v", 2, undefined, "blocks.2.attn.hook_v"],
    ["z", 2, undefined, "blocks.2.attn.hook_z"],
    ["result", 2, undefined, "blocks.2.attn.hook_result"],
    ["attn_scores", 2, undefined, "blocks.2.attn.hook_attn_scores"],
    ["attn", 2, undefined, "blocks.2.attn.hook_pattern"],
    ["attn_logits", 2, undefined, "blocks.2.attn.hook_attn_scores"],
    ["key", 0, undefined, "blocks.0.attn.hook_k"],
    ["query", 0, undefined, "blocks.0.attn.hook_q"],
    ["value", 0, undefined, "blocks.0.attn.hook_v"],
    ["mlp_pre", 0, undefined, "blocks.0.mlp.hook_pre"],
    ["mlp_post", 0, undefined, "blocks.0.mlp.hook_post"],
    ["scale", undefined, undefined, "ln_final.hook_scale"],
    ["normalized", undefined, undefined, "ln_final.hook_normalized"],
    ["pattern3", undefined, undefined, "blocks.3.attn.hook_pattern"],
    ["scale4ln1", undefined, undefined, "blocks.4.ln1.hook_scale"],
    ["z10", undefined, undefined, "blocks.10.attn.hook_z"],
    ["attn.hook_z", 1, undefined, "blocks.1.attn.hook_z"],
    ["hook_resid_post", 0, undefined, "blocks.0.hook_resid_post"],
    ["ln_final.hook_scale", undefined, undefined, "ln_final.hook_scale"],
    ["logits", undefined, undefined, "logits"],
  ];
  it.each(cases)("actName(%j, %j, %j) is %s", (name, layer, layerType, expected) => {
    expect(actName(name, layer, layerType)).toBe(expected);
  });

  it("returns every hook name of a model unchanged, and every block suffix with its layer", () => {
    const names = hookNames({ nLayers: 12 });
    for (const name of names) expect(actName(name)).toBe(name);
    fc.assert(
      fc.property(fc.nat(48), fc.constantFrom(...BLOCK_HOOK_SUFFIXES), (layer, suffix) => {
        expect(actName(suffix, layer)).toBe(blockHook(layer, suffix));
      }),
    );
  });

  it("rejects names that are no GPT-2 hook point with the nearest valid names", () => {
    const error = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as InputError;
      }
      throw new Error("no error");
    };
    const typo = error(() => actName("patern" as ActNameInput, 0));
    expect(typo).toBeInstanceOf(InputError);
    expect(typo.code).toBe("unknown_act_name");
    expect(typo.message).toContain('it would be "blocks.0.hook_patern"');
    expect(typo.message).toContain('"pattern"');
    expect(error(() => actName("mid" as ActNameInput, 0)).code).toBe("unknown_act_name"); // no hook_mid in GPT-2
    expect(error(() => actName("scale", 0)).message).toMatch(/say which, e\.g\. actName\("scale", 0, "ln1"\)/);
    expect(error(() => actName("blocks.0.attn.hook_foo" as ActNameInput)).code).toBe("unknown_act_name");
    expect(error(() => actName("pattern", -1)).code).toBe("bad_layer");
    expect(error(() => actName("pattern3", 3)).code).toBe("bad_layer");
  });
});

describe("ActivationCache", () => {
  let model: HookedGpt2;
  beforeAll(async () => {
    model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
  });

  it("takes TransformerLens's short form", () => {
    const { cache } = model.run([[1, 2, 3]], { cache: true });
    expect(cache.get("pattern", 0)).toBe(cache.get("blocks.0.attn.hook_pattern"));
    expect(cache.get("resid_pre", 1)).toBe(cache.get("blocks.1.hook_resid_pre"));
    expect(cache.get("scale", 1, "ln2")).toBe(cache.get("blocks.1.ln2.hook_scale"));
    expect(cache.get("scale")).toBe(cache.get("ln_final.hook_scale"));
    expect(cache.get("embed")).toBe(cache.get("hook_embed"));
    expect(cache.get("pattern1")).toBe(cache.get("blocks.1.attn.hook_pattern"));
    expect(cache.has("z", 0)).toBe(true);
    expect(cache.has("result", 0)).toBe(true);
    expect(cache.has("pattern", 9)).toBe(false);
    expect(cache.has("patern" as ActNameInput, 0)).toBe(false);
    expect(() => cache.get("patern" as ActNameInput, 0)).toThrow(expect.objectContaining({ code: "unknown_act_name" }));
    expect(() => cache.get("pattern", 9)).toThrow(HookError);
    expect(() => cache.get("pattern", 9)).toThrow(/"blocks\.9\.attn\.hook_pattern" is not in the cache; nearest cached names: blocks\.0\.attn\.hook_pattern/);
  });

  it("shows its names and shapes in String(), util.inspect and Jupyter", () => {
    const { cache } = model.run([[1, 2, 3]], { cache: ["hook_embed", "blocks.0.attn.hook_pattern"] });
    const text = String(cache);
    expect(text).toBe(
      ["ActivationCache with 2 activations:", "  hook_embed                  [1, 3, 32]", "  blocks.0.attn.hook_pattern  [1, 4, 3, 3]"].join("\n")
        .replace("[1, 3, 32]", `[${cache.get("embed").shape.join(", ")}]`)
        .replace("[1, 4, 3, 3]", `[${cache.get("pattern", 0).shape.join(", ")}]`),
    );
    expect(inspect(cache)).toBe(text);
    const bundle = (cache as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")]!();
    expect(bundle["text/plain"]).toBe(text);
    expect(bundle["text/html"]).toContain("<td style=\"border:1px solid #ddd;padding:2px 8px;text-align:left;font:12px monospace\">blocks.0.attn.hook_pattern</td>");
    expect(bundle["text/html"]).toContain("ActivationCache with 2 activations");
    expect(String(model.run([[1]], { cache: [] }).cache)).toBe("ActivationCache with 0 activations");
  });
});
