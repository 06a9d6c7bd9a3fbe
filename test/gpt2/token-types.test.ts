/**
 * Token ids are checked as the numbers given, before any Int32 conversion could wrap them, and a
 * value that is not tokens at all says what tokens must be.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";
import { thrownBy } from "../helpers/thrown.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));

const thrown = (fn: () => unknown): InputError => thrownBy(fn, InputError);

describe("token ids are checked before the Int32 conversion", () => {
  it("rejects 2^32 + 464 instead of running token 464", () => {
    const error = thrown(() => model.run([[2 ** 32 + 464]]));
    expect(error.code).toBe("token_out_of_vocab");
    expect(error.message).toContain(String(2 ** 32 + 464));
    expect(error.message).toContain("[0, 0]");
  });

  it.each([1e10, -(2 ** 32), 2 ** 31, Number.MAX_SAFE_INTEGER])("reports %s as itself, not as its int32 wrap", (id) => {
    const error = thrown(() => model.run([1, id, 2]));
    expect(error.code).toBe("token_out_of_vocab");
    expect(error.message).toContain(`token id ${id} at [0, 1]`);
    expect(error.message).not.toContain(`token id ${id | 0} `);
  });

  it.each([NaN, Infinity, 0.5])("rejects the non-integer %s", (id) => {
    const error = thrown(() => model.run([[3, id]]));
    expect(error.code).toBe("token_out_of_vocab");
    expect(error.message).toContain(`[0, 1] is ${id}, not an integer id`);
  });
});

describe("values that are not tokens", () => {
  it("a string is text for run() (tokenized), but bad_tokens for model.tokens(), which takes ids", () => {
    expect(model.run("text").logits.shape).toEqual([1, 2, model.config.dVocab]);
    const error = thrown(() => model.tokens("text" as unknown as number[]));
    expect(error.code).toBe("bad_tokens");
    expect(error.message).toMatch(/got the string "text" \(turn text into ids with toTokens\(text\)\)/);
  });

  it.each<[string, unknown, RegExp]>([
    ["a number", 42, /got number 42/],
    ["null", null, /got null/],
    ["undefined", undefined, /got undefined/],
    ["an object without Int32Array ids", { ids: [1, 2], batch: 1, pos: 2 }, /got an object \(Object\)/],
  ])("%s is bad_tokens saying what is expected", (_, input, detail) => {
    const error = thrown(() => model.run(input as number[]));
    expect(error.code).toBe("bad_tokens");
    expect(error.message).toMatch(/^tokens must be an array of token ids, an array of such arrays \(a batch\) or a TokenBatch/);
    expect(error.message).toMatch(detail);
  });

  it("names a row that is not an array, and an id that is not a number", () => {
    expect(thrown(() => model.run([[1, 2], 3] as unknown as number[][])).message).toMatch(/row 1 is number 3/);
    const error = thrown(() => model.run([[1, "2"]] as unknown as number[][]));
    expect(error.code).toBe("bad_tokens");
    expect(error.message).toBe('token at [0, 1] is the string "2", not a token id');
  });

  it("rejects a hole in a sparse array instead of reading it as token 0", () => {
    // eslint-disable-next-line no-sparse-arrays
    const error = thrown(() => model.run([[1, , 3]] as unknown as number[][]));
    expect(error.message).toBe("token at [0, 1] is undefined, not a token id");
  });
});
