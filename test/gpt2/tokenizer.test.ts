import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { InputError } from "../../src/errors.ts";
import {
  BOS_TOKEN_ID,
  GPT2_VOCAB_SIZE,
  decodeTokens,
  toStrTokens,
  toTokenBatch,
  toTokens,
} from "../../src/gpt2/tokenizer.ts";

// A minimal safetensors reader for int32 tensors and metadata (8-byte LE header length, JSON
// header with dtype/shape/data_offsets relative to the end of the header).
function readGolden(path: string) {
  const bytes = readFileSync(new URL(path, import.meta.url));
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8"));
  const int32 = (name: string) => {
    const { dtype, shape, data_offsets: [begin, end] } = header[name];
    expect(dtype).toBe("I32");
    const data = bytes.subarray(8 + headerLength + begin, 8 + headerLength + end);
    return { values: new Int32Array(Uint8Array.from(data).buffer), shape: shape as number[] };
  };
  return { metadata: header.__metadata__ as Record<string, string>, int32 };
}

function expectInputError(run: () => unknown, code: string, ...mentions: string[]): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).code).toBe(code);
    for (const mention of mentions) expect((error as Error).message).toContain(mention);
    return;
  }
  expect.fail(`expected an InputError "${code}"`);
}

const goldenFiles = [
  { path: "../fixtures/tiny-gpt2/golden.safetensors", clean: "clean", corrupted: "corrupted" },
  { path: "../fixtures/greater-than-gpt2-layer0/golden.safetensors", clean: "prompts", corrupted: undefined },
];

describe("toTokens / toTokenBatch against the golden fixtures", () => {
  for (const file of goldenFiles) {
    it(`reproduces tokens and corrupted_tokens of ${file.path.split("/").pop()}`, () => {
      const golden = readGolden(file.path);
      const clean: string[] = JSON.parse(golden.metadata[file.clean]);
      // The greater-than golden stores only the clean prompts; corrupted = start year XX01.
      const corrupted: string[] = file.corrupted
        ? JSON.parse(golden.metadata[file.corrupted])
        : clean.map((prompt) => prompt.replace(/year (\d\d)\d\d /, "year $101 "));
      for (const [prompts, name] of [[clean, "tokens"], [corrupted, "corrupted_tokens"]] as const) {
        const expected = golden.int32(name);
        const batch = toTokenBatch(prompts);
        expect([batch.batch, batch.pos]).toEqual(expected.shape);
        expect(Array.from(batch.ids)).toEqual(Array.from(expected.values));
      }
    });
  }
});

describe("toTokens", () => {
  it("turns <|endoftext|> into the single BOS token and nothing else special", () => {
    expect(toTokens("<|endoftext|> The war")).toEqual([BOS_TOKEN_ID, 383, 1175]);
    expect(toTokens("<|endoftext|>")).toEqual([BOS_TOKEN_ID]);
    const imStart = toTokens("<|im_start|>");
    expect(imStart.length).toBeGreaterThan(1);
    expect(imStart).not.toContain(BOS_TOKEN_ID);
    expect(decodeTokens(imStart)).toBe("<|im_start|>");
  });

  it("prepends BOS only when asked", () => {
    expect(toTokens(" The war")).toEqual([383, 1175]);
    expect(toTokens(" The war", { prependBos: true })).toEqual([BOS_TOKEN_ID, 383, 1175]);
    expect(toTokens("", { prependBos: true })).toEqual([BOS_TOKEN_ID]);
  });

  it("rejects a prompt with no tokens", () => {
    expectInputError(() => toTokens(""), "empty_prompt");
  });

  it("round-trips any text through decodeTokens", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 1 }), (text) => {
        expect(decodeTokens(toTokens(text))).toBe(text);
      }),
    );
  });
});

describe("toStrTokens", () => {
  it("decodes each token on its own", () => {
    expect(toStrTokens("<|endoftext|> The war lasted from the year 1732 to the year 17")).toEqual([
      "<|endoftext|>", " The", " war", " lasted", " from", " the", " year", " 17", "32", " to", " the", " year", " 17",
    ]);
    expect(toStrTokens([BOS_TOKEN_ID, 383])).toEqual(["<|endoftext|>", " The"]);
    expect(toStrTokens(" The", { prependBos: true })).toEqual(["<|endoftext|>", " The"]);
  });

  it("shows the pieces of a split character as U+FFFD, independently of earlier calls", () => {
    const tokens = toTokens(" 日本語");
    expect(toStrTokens(tokens)).toEqual([" \uFFFD", ...Array(tokens.length - 1).fill("\uFFFD")]);
    // Decoding the first piece alone must leave nothing behind that changes the next call.
    expect(toStrTokens([tokens[0]])).toEqual([" \uFFFD"]);
    expect(decodeTokens([tokens[2]])).toBe("\uFFFD");
    expect(decodeTokens(tokens)).toBe(" 日本語");
  });
});

describe("decodeTokens", () => {
  it("names the out-of-vocabulary id and its index", () => {
    expectInputError(() => decodeTokens([383, GPT2_VOCAB_SIZE]), "token_out_of_vocab", "50257", "index 1");
    expectInputError(() => decodeTokens([-1]), "token_out_of_vocab", "-1", "index 0");
    expectInputError(() => decodeTokens([1.5]), "token_out_of_vocab", "1.5");
    expectInputError(() => toStrTokens([0, 99999]), "token_out_of_vocab", "99999", "index 1");
  });

  it("decodes BOS and the last ordinary token", () => {
    expect(decodeTokens([BOS_TOKEN_ID])).toBe("<|endoftext|>");
    expect(decodeTokens([BOS_TOKEN_ID - 1]).length).toBeGreaterThan(0);
    expect(decodeTokens([])).toBe("");
  });
});

describe("toTokenBatch", () => {
  it("lays out equal-length prompts row-major", () => {
    const batch = toTokenBatch([" The war", " The trip"], { prependBos: true });
    expect(batch.batch).toBe(2);
    expect(batch.pos).toBe(3);
    expect(Array.from(batch.ids)).toEqual([...toTokens(" The war", { prependBos: true }), ...toTokens(" The trip", { prependBos: true })]);
  });

  it("names the prompts and lengths of a ragged batch", () => {
    expectInputError(
      () => toTokenBatch([" a", " a", " a b c"]),
      "ragged_batch",
      "1 tokens: prompts 0, 1",
      "3 tokens: prompt 2",
    );
  });

  it("names the empty prompt", () => {
    expectInputError(() => toTokenBatch([" a", ""]), "empty_prompt", "prompt 1");
    expectInputError(() => toTokenBatch([]), "empty_batch");
  });
});
