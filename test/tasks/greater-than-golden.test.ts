/**
 * The greater-than golden fixture (made by HF transformers in Python) against this package's
 * tokenizer, years, dataset layout and metric definitions. The end-to-end check of the metrics
 * on model logits lives with the model.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeTokens } from "../../src/gpt2/tokenizer.ts";
import { GT_POSITIONS, GT_PROMPT_LENGTH, greaterThanPrompt } from "../../src/tasks/greater-than/dataset.ts";
import { GREATER_THAN_NOUNS } from "../../src/tasks/greater-than/nouns.ts";
import { validYears, yearTokenIds } from "../../src/tasks/greater-than/years.ts";

// A minimal safetensors reader (8-byte LE header length, JSON header with dtype/shape/data_offsets
// relative to the end of the header) for the int32 and float32 tensors and metadata used here.
function readGolden(path: string) {
  const bytes = readFileSync(new URL(path, import.meta.url));
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8"));
  const tensor = (name: string, dtype: "I32" | "F32") => {
    const { dtype: stored, shape, data_offsets: [begin, end] } = header[name];
    expect(stored).toBe(dtype);
    const buffer = Uint8Array.from(bytes.subarray(8 + headerLength + begin, 8 + headerLength + end)).buffer;
    return { values: dtype === "I32" ? new Int32Array(buffer) : new Float32Array(buffer), shape: shape as number[] };
  };
  return { metadata: header.__metadata__ as Record<string, string>, tensor };
}

const golden = readGolden("../fixtures/greater-than-gpt2-layer0/golden.safetensors");
const prompts: string[] = JSON.parse(golden.metadata.prompts);
const yy = golden.tensor("yy", "I32").values;
const tokens = golden.tensor("tokens", "I32");
const corruptedTokens = golden.tensor("corrupted_tokens", "I32");

describe("greater-than golden fixture", () => {
  it("has the year tokens of yearTokenIds", () => {
    expect(Array.from(golden.tensor("year_tokens", "I32").values)).toEqual(yearTokenIds());
  });

  it("holds 490 prompts of our template, YY cycling 02..98, from valid years and our nouns", () => {
    expect(prompts).toHaveLength(490);
    expect(Array.from(yy)).toEqual(prompts.map((_, i) => 2 + (i % 97)));
    const years = new Set(validYears());
    prompts.forEach((prompt, i) => {
      const [, noun, year] = /^<\|endoftext\|> The (\w+) lasted from the year (\d{4}) to the year \d\d$/.exec(prompt) ?? [];
      expect(prompt).toBe(greaterThanPrompt(noun, Number(year)));
      expect(Number(year) % 100).toBe(yy[i]);
      expect(years.has(Number(year))).toBe(true);
      expect(GREATER_THAN_NOUNS).toContain(noun);
    });
  });

  it("has 13-token prompts with century, YY and END at GT_POSITIONS", () => {
    expect(tokens.shape).toEqual([490, GT_PROMPT_LENGTH]);
    expect(corruptedTokens.shape).toEqual([490, GT_PROMPT_LENGTH]);
    const yearTokens = yearTokenIds();
    for (let i = 0; i < 490; i++) {
      const at = (ids: Int32Array | Float32Array, position: number) => ids[i * GT_PROMPT_LENGTH + position];
      const century = ` ${prompts[i].slice(-2)}`;
      expect(decodeTokens([at(tokens.values, GT_POSITIONS.XX1)])).toBe(century);
      expect(at(tokens.values, GT_POSITIONS.YY)).toBe(yearTokens[yy[i]]);
      expect(decodeTokens([at(tokens.values, GT_POSITIONS.END)])).toBe(century);
      expect(at(corruptedTokens.values, GT_POSITIONS.YY)).toBe(yearTokens[1]);
    }
  });

  it("stores prob_diff and cutoff_sharpness whose means are the metadata's", () => {
    const mean = (values: ArrayLike<number>) => Array.from(values).reduce((sum, value) => sum + value, 0) / values.length;
    const probDiff = golden.tensor("prob_diff", "F32");
    const cutoff = golden.tensor("cutoff_sharpness", "F32");
    expect(probDiff.shape).toEqual([490]);
    expect(cutoff.shape).toEqual([490]);
    expect(golden.metadata.prob_diff_mean).toBe("0.970277");
    expect(golden.metadata.cutoff_sharpness_mean).toBe("0.033555");
    expect(mean(probDiff.values)).toBeCloseTo(Number(golden.metadata.prob_diff_mean), 5);
    expect(mean(cutoff.values)).toBeCloseTo(Number(golden.metadata.cutoff_sharpness_mean), 5);
    expect(Array.from(probDiff.values).every((value) => value >= -1 && value <= 1)).toBe(true);
  });
});
