import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { decodeTokens, toTokens } from "../../src/gpt2/tokenizer.ts";
import { twoDigits, validYears, yearTokenIds } from "../../src/tasks/greater-than/years.ts";

describe("yearTokenIds", () => {
  it("gives the 100 single tokens '00'..'99' without a leading space", () => {
    const ids = yearTokenIds();
    expect(ids).toHaveLength(100);
    ids.forEach((id, yy) => expect(decodeTokens([id])).toBe(twoDigits(yy)));
    expect(new Set(ids).size).toBe(100);
  });
});

describe("validYears", () => {
  const years = validYears();

  it("keeps 768 years in 1000–1899", () => {
    expect(years).toHaveLength(768);
    expect(years).toEqual([...years].sort((a, b) => a - b));
  });

  it("keeps only years read as ' XX' then 'YY'", () => {
    for (const year of years) {
      const pieces = toTokens(` ${year}`).map((token) => decodeTokens([token]));
      expect(pieces).toEqual([` ${Math.floor(year / 100)}`, twoDigits(year % 100)]);
    }
  });

  it("drops exactly the first and last splitting year of each century", () => {
    const splits = (year: number) => {
      const tokens = toTokens(` ${year}`);
      return tokens.length === 2 && decodeTokens([tokens[1]]) === twoDigits(year % 100);
    };
    const kept = new Set(years);
    for (let century = 10; century <= 18; century++) {
      const splitting = Array.from({ length: 100 }, (_, yy) => century * 100 + yy).filter(splits);
      expect(splitting.filter((year) => kept.has(year))).toEqual(splitting.slice(1, -1));
    }
    // e.g. 1020 and 1099 are the first and last splitting years of the 10XX years.
    expect(kept.has(1020)).toBe(false);
    expect(kept.has(1099)).toBe(false);
    expect(kept.has(1732)).toBe(true);
  });

  it("accepts another tokenizer and range", () => {
    // A toy tokenizer that splits every year as " XX" + "YY" except years ending in 5.
    const toy = (text: string): number[] => {
      const year = /^ (\d\d)(\d\d)$/.exec(text);
      if (year && year[2].endsWith("5")) return [9999];
      if (year) return [Number(year[1]) + 1000, Number(year[2])];
      const century = /^ (\d\d)$/.exec(text);
      if (century) return [Number(century[1]) + 1000];
      if (/^\d\d$/.test(text)) return [Number(text)];
      return [1, 2];
    };
    expect(validYears(toy, [1700, 1720])).toEqual([1701, 1702, 1703, 1704, 1706, 1707, 1708, 1709, 1710, 1711, 1712, 1713, 1714, 1716, 1717, 1718, 1719]);
  });

  it("rejects a bad range", () => {
    expect(() => validYears(toTokens, [1900, 1800])).toThrow(InputError);
    expect(() => validYears(toTokens, [999, 1800])).toThrow(InputError);
    expect(() => validYears(toTokens, [1000.5, 1800])).toThrow(InputError);
  });
});
