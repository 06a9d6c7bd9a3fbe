/** The components and the PathActivations view refuse inputs of the wrong shape with typed errors naming what was expected. */
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { attendRow, headQ } from "../../src/gpt2/components/attention-head.ts";
import { unembed, unembedLinear, unembedTokens } from "../../src/gpt2/components/unembed.ts";
import { blockHook } from "../../src/gpt2/hook-names.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { ActivationCache } from "../../src/hooks/activation-cache.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { PathActivations, pathActivationNames } from "../../src/patching/path-activations.ts";
import { PatchingError } from "../../src/patching/patching-error.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";
import { thrownBy } from "../helpers/thrown.ts";

const model = await loadGpt2FromDir(TINY_DIR);
const { dModel: d, dHead } = model.config;

describe("components: bad input", () => {
  it("attendRow names the keys/values that do not fit the query", () => {
    const q = Tensor.zeros([2, dHead]);
    const error = thrownBy(() => attendRow(q, Tensor.zeros([2, 3, dHead + 1]), Tensor.zeros([2, 3, dHead])), InputError, "shape_mismatch");
    expect(error.message).toMatch(/attendRow: keys \[2, 3, \d+\] do not fit a query \[2, \d+\]/);
    thrownBy(() => attendRow(q, Tensor.zeros([2, 3, dHead]), Tensor.zeros([1, 3, dHead])), InputError, "shape_mismatch");
  });

  it("the unembedding refuses rows that are not d_model wide and tokens outside the vocabulary", () => {
    expect(thrownBy(() => unembed(model, Tensor.zeros([2, d + 1])), InputError, "shape_mismatch").message).toMatch(/does not end in d_model/);
    const rows = Tensor.zeros([2, d]);
    expect(thrownBy(() => unembedTokens(model, rows, [model.config.dVocab]), InputError, "bad_token").message).toMatch(/outside the vocabulary/);
    thrownBy(() => unembedTokens(model, rows, [1.5]), InputError, "bad_token");
    thrownBy(() => unembedLinear(model, Tensor.zeros([3, d - 1]), null), InputError, "shape_mismatch");
  });

  it("a head's query needs residual rows of width d_model", () => {
    thrownBy(() => headQ(model, 0, 0, Tensor.zeros([2, d + 3])), InputError);
  });
});

describe("PathActivations: a cache that does not hold a path-patching run", () => {
  const hooked = new HookedGpt2(model);
  const run = hooked.runUntil([[1, 2, 3]], "ln_final.hook_scale", { cache: pathActivationNames(model.config) });

  it("names a missing activation", () => {
    const partial = new ActivationCache();
    partial.record(blockHook(0, "hook_resid_pre"), run.get(blockHook(0, "hook_resid_pre")));
    expect(() => new PathActivations(partial, model.config)).toThrow(/not in the cache/);
  });

  it("names an activation of the wrong shape", () => {
    const bent = new ActivationCache();
    for (const [name, value] of run) bent.record(name, name === blockHook(0, "attn.hook_k") ? value.reshape([1, 3, -1]) : value);
    const error = thrownBy(() => new PathActivations(bent, model.config), PatchingError, "shape_mismatch");
    expect(error.message).toMatch(/blocks\.0\.attn\.hook_k is \[1, 3, \d+\], expected \[1, 3, \d+, \d+\]/);
  });
});
