import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { InputError } from "../../src/errors.ts";
import { BOS_TOKEN_ID, decodeTokens, toStrTokens, toTokens } from "../../src/gpt2/tokenizer.ts";
import {
  GT_POSITIONS,
  GT_PROMPT_LENGTH,
  greaterThanPrompt,
  makeGreaterThanDataset,
} from "../../src/tasks/greater-than/dataset.ts";
import { GREATER_THAN_NOUNS } from "../../src/tasks/greater-than/nouns.ts";
import { twoDigits, validYears, yearTokenIds } from "../../src/tasks/greater-than/years.ts";
import { seededRandom } from "../../src/tasks/random.ts";

const row = (ids: Int32Array, i: number) => Array.from(ids.subarray(i * GT_PROMPT_LENGTH, (i + 1) * GT_PROMPT_LENGTH));

describe("greaterThanPrompt", () => {
  it("fills the paper's template", () => {
    expect(greaterThanPrompt("war", 1732)).toBe("<|endoftext|> The war lasted from the year 1732 to the year 17");
    expect(greaterThanPrompt("trip", 1405)).toBe("<|endoftext|> The trip lasted from the year 1405 to the year 14");
  });

  it("puts XX1, YY and END at GT_POSITIONS", () => {
    const pieces = toStrTokens(greaterThanPrompt("war", 1732));
    expect(pieces).toHaveLength(GT_PROMPT_LENGTH);
    expect(pieces[0]).toBe("<|endoftext|>");
    expect(pieces[GT_POSITIONS.XX1]).toBe(" 17");
    expect(pieces[GT_POSITIONS.YY]).toBe("32");
    expect(pieces[GT_POSITIONS.END]).toBe(" 17");
  });
});

describe("GREATER_THAN_NOUNS", () => {
  it("holds 120 distinct nouns, each one token after a space", () => {
    expect(GREATER_THAN_NOUNS).toHaveLength(120);
    expect(new Set(GREATER_THAN_NOUNS).size).toBe(120);
    for (const noun of GREATER_THAN_NOUNS) expect(toTokens(` ${noun}`)).toHaveLength(1);
  });
});

describe("makeGreaterThanDataset", () => {
  const n = 300;
  const dataset = makeGreaterThanDataset({ n, seed: 42 });
  const years = new Set(validYears());
  const yearTokens = yearTokenIds();

  it("cycles YY through 02..98 and uses only valid start years", () => {
    expect(Array.from(dataset.yy)).toEqual(Array.from({ length: n }, (_, i) => 2 + (i % 97)));
    for (let i = 0; i < n; i++) expect(years.has(dataset.xx[i] * 100 + dataset.yy[i])).toBe(true);
  });

  it("builds each prompt and its XX01 twin from the recorded noun, century and YY", () => {
    for (let i = 0; i < n; i++) {
      expect(dataset.prompts[i]).toBe(greaterThanPrompt(dataset.nouns[i], dataset.xx[i] * 100 + dataset.yy[i]));
      expect(dataset.corruptedPrompts[i]).toBe(greaterThanPrompt(dataset.nouns[i], dataset.xx[i] * 100 + 1));
      expect(GREATER_THAN_NOUNS).toContain(dataset.nouns[i]);
    }
  });

  it("tokenizes every prompt to 13 tokens with the year pieces at GT_POSITIONS", () => {
    for (const batch of [dataset.tokens, dataset.corruptedTokens]) {
      expect(batch.batch).toBe(n);
      expect(batch.pos).toBe(GT_PROMPT_LENGTH);
    }
    for (let i = 0; i < n; i++) {
      const clean = row(dataset.tokens.ids, i);
      const corrupted = row(dataset.corruptedTokens.ids, i);
      expect(decodeTokens(clean)).toBe(dataset.prompts[i]);
      expect(decodeTokens(corrupted)).toBe(dataset.corruptedPrompts[i]);
      expect(clean[0]).toBe(BOS_TOKEN_ID);
      const century = ` ${dataset.xx[i]}`;
      expect(decodeTokens([clean[GT_POSITIONS.XX1]])).toBe(century);
      expect(clean[GT_POSITIONS.YY]).toBe(yearTokens[dataset.yy[i]]);
      expect(decodeTokens([clean[GT_POSITIONS.END]])).toBe(century);
      expect(corrupted[GT_POSITIONS.YY]).toBe(yearTokens[1]);
      // clean and corrupted differ only in the YY token
      const differing = clean.flatMap((token, position) => (token === corrupted[position] ? [] : [position]));
      expect(differing).toEqual([GT_POSITIONS.YY]);
    }
  });

  it("spreads nouns and centuries, leaving out the 1000s whose XX01 does not split", () => {
    expect(new Set(dataset.nouns).size).toBeGreaterThan(80);
    expect([...new Set(dataset.xx)].sort()).toEqual([11, 12, 13, 14, 15, 16, 17, 18]);
    expect(toStrTokens(" 1001")).toEqual([" 100", "1"]);
  });

  it("is a function of the seed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 120 }), fc.integer(), (size, seed) => {
        const first = makeGreaterThanDataset({ n: size, seed });
        const second = makeGreaterThanDataset({ n: size, seed });
        expect(second).toEqual(first);
      }),
      { numRuns: 20 },
    );
    expect(makeGreaterThanDataset({ n: 50, seed: 1 }).prompts).not.toEqual(makeGreaterThanDataset({ n: 50, seed: 2 }).prompts);
  });

  it("draws from the given nouns and years", () => {
    const custom = makeGreaterThanDataset({
      n: 97, seed: 3, nouns: ["war", "trip"], years: Array.from({ length: 97 }, (_, i) => 1602 + i),
    });
    expect(new Set(custom.nouns)).toEqual(new Set(["war", "trip"]));
    expect(Array.from(new Set(custom.xx))).toEqual([16]);
  });

  it("rejects bad options with typed errors", () => {
    const code = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        expect(error).toBeInstanceOf(InputError);
        return (error as InputError).code;
      }
      return "no error";
    };
    expect(code(() => makeGreaterThanDataset({ n: 0, seed: 1 }))).toBe("bad_dataset_size");
    expect(code(() => makeGreaterThanDataset({ n: 2.5, seed: 1 }))).toBe("bad_dataset_size");
    expect(code(() => makeGreaterThanDataset({ n: 3, seed: 1.5 }))).toBe("bad_seed");
    expect(code(() => makeGreaterThanDataset({ n: 3, seed: 1, nouns: [] }))).toBe("empty_choice");
    expect(code(() => makeGreaterThanDataset({ n: 3, seed: 1, nouns: ["war", "incarcerations galore"] }))).toBe("noun_not_single_token");
    expect(code(() => makeGreaterThanDataset({ n: 3, seed: 1, years: [1702, 1703] }))).toBe("years_miss_yy");
    expect(code(() => makeGreaterThanDataset({ n: 2, seed: 1, years: [1702, 1703] }))).toBe("no error");
  });
});

describe("seededRandom", () => {
  it("repeats for a seed and stays in range", () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    for (let i = 0; i < 1000; i++) {
      const value = a.next();
      expect(value).toBe(b.next());
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
    }
  });

  it("draws integers roughly uniformly", () => {
    const random = seededRandom(123);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 20000; i++) counts[random.nextInt(10)]++;
    for (const count of counts) expect(Math.abs(count - 2000)).toBeLessThan(200);
  });
});

it("twoDigits pads", () => {
  expect([0, 7, 42].map(twoDigits)).toEqual(["00", "07", "42"]);
});
