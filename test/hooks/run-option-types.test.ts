/**
 * Wrong-typed run options are an InputError (`bad_option`) saying what was expected, not a raw
 * TypeError from inside the run.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2, type RunOptions } from "../../src/hooks/hooked-gpt2.ts";
import type { HookName } from "../../src/gpt2/hook-names.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";
import { thrownBy } from "../helpers/thrown.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const tokens = [[1, 2, 3]];

const thrown = (fn: () => unknown): InputError => thrownBy(fn, InputError, "bad_option");

const cases: [string, unknown, RegExp][] = [
  ["null options", null, /^run options must be an object \{ hooks, cache, logitPositions, start, past, attentionMask, prependBos, paddingSide, padTokenId \} \(all optional\), got null$/],
  ["a string as options", "hook_embed", /run options must be an object .* got the string "hook_embed"/],
  ["an array as options", [["hook_embed", () => undefined]], /run options must be an object .* got an array/],
  ["a misspelt option", { cahce: true }, /unknown run option "cahce"; the options are hooks, cache, logitPositions, start, past/],
  ["cache as one name", { cache: "hook_embed" }, /cache must be true, false, a list of hook names or a filter .* got the string "hook_embed" \(for one name, write \["hook_embed"\]\)/],
  ["cache holding null", { cache: [null] }, /^cache\[0\] must be a hook name, got null$/],
  ["cache as a number", { cache: 1 }, /cache must be .* got number 1/],
  ["hooks as an object", { hooks: {} }, /^hooks must be an array of \[name or filter, fn\] pairs, got an object \(Object\)$/],
  ["a hook that is not a pair", { hooks: [["hook_embed"]] }, /^hooks\[0\] must be a \[name or filter, fn\] pair, got an array of length 1$/],
  ["a hook selector that is a number", { hooks: [[3, () => undefined]] }, /^hooks\[0\]\[0\] must be a hook name or a filter .* got number 3$/],
  ["a hook fn that is not a function", { hooks: [["hook_embed", "f"]] }, /^hooks\[0\]\[1\] must be a hook function .* got the string "f"$/],
];

describe("run() options of the wrong type", () => {
  it.each(cases)("%s", (_, options, message) => {
    expect(thrown(() => model.run(tokens, options as RunOptions)).message).toMatch(message);
  });

  it("run(42) says what tokens must be", () => {
    let caught: unknown;
    try {
      model.run(42 as unknown as number[]);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as InputError).message).toMatch(/^tokens must be an array of token ids.*got number 42$/);
  });

  it("undefined options and undefined keys are fine", () => {
    expect(() => model.run(tokens, undefined)).not.toThrow();
    expect(() => model.run(tokens, { hooks: undefined, cache: undefined })).not.toThrow();
  });
});

describe("runUntil() arguments of the wrong type", () => {
  it("checks stopAfter and the options", () => {
    expect(thrown(() => model.runUntil(tokens, 7 as unknown as HookName)).message).toBe("stopAfter must be a hook name, got number 7");
    expect(thrown(() => model.runUntil(tokens, "hook_embed", null as unknown as RunOptions)).message).toMatch(/got null$/);
    expect(thrown(() => model.runUntil(tokens, "hook_embed", { cache: [undefined] } as unknown as RunOptions)).message).toBe(
      "cache[0] must be a hook name, got undefined",
    );
  });
});
