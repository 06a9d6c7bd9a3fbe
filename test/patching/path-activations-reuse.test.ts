/**
 * collectPathActivations with `reuse`: the corrupted run computed after the clean run's shared prefix
 * equals a full corrupted run; a run of other tokens is refused; no shared prefix → full run.
 */
import { describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { collectPathActivations, pathActivationNames, type PathActivations, sharedPrefixLength } from "../../src/patching/path-activations.ts";
import { GT_POSITIONS, makeGreaterThanDataset } from "../../src/tasks/greater-than/dataset.ts";
import { expectClose } from "../helpers/compare.ts";
import { BUNDLED_MODEL_DIR } from "../helpers/fixtures.ts";

const model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
const data = makeGreaterThanDataset({ n: 10, seed: 5 });

function expectSameRun(actual: PathActivations, expected: PathActivations): void {
  expect([actual.batch, actual.pos]).toEqual([expected.batch, expected.pos]);
  const arrays = (run: PathActivations): [string, Float32Array][] =>
    pathActivationNames(run.config).map((name): [string, Float32Array] => [name, run.cache.get(name).data]);
  expect(arrays(actual).length).toBe(6 * model.config.nLayers + 2);
  const wanted = new Map(arrays(expected));
  for (const [name, values] of arrays(actual)) {
    expect(values.length, name).toBe(wanted.get(name)!.length);
    expectClose(values, wanted.get(name)!, 1e-6, name);
  }
}

describe("collectPathActivations with reuse", () => {
  const clean = collectPathActivations(model, data.tokens);

  it("computes only the positions after the shared prefix and equals a full run", () => {
    expect(sharedPrefixLength(data.tokens, data.corruptedTokens)).toBe(GT_POSITIONS.YY);
    const full = collectPathActivations(model, data.corruptedTokens);
    const reused = collectPathActivations(model, data.corruptedTokens, { reuse: { run: clean, tokens: data.tokens } });
    expectSameRun(reused, full);
    // Identical prompts: everything but the last position comes from the reused run.
    expectSameRun(collectPathActivations(model, data.tokens, { reuse: { run: clean, tokens: data.tokens } }), clean);
  });

  it("refuses a run that is not of the tokens it claims", () => {
    const other = makeGreaterThanDataset({ n: 10, seed: 6 });
    const shared = sharedPrefixLength(other.tokens, data.tokens);
    expect(shared).toBeGreaterThan(0); // "<|endoftext|> The" at least
    expect(() => collectPathActivations(model, other.tokens, { reuse: { run: clean, tokens: other.tokens } })).toThrow(
      /not a run of its tokens/,
    );
  });

  it("falls back to a full run when nothing is shared", () => {
    const shifted = { ...data.tokens, ids: data.tokens.ids.map((id, i) => (i % data.tokens.pos === 0 ? (id + 1) % 50257 : id)) };
    expect(sharedPrefixLength(shifted, data.tokens)).toBe(0);
    expectSameRun(collectPathActivations(model, shifted, { reuse: { run: clean, tokens: data.tokens } }), collectPathActivations(model, shifted));
  });
});
