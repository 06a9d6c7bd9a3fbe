import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { toStrTokens } from "../../src/gpt2/tokenizer.ts";
import { RELATED_FAMILIES, type RelatedFamily } from "../../src/tasks/related/families.ts";
import { checkRelatedFamily, parseRelatedFamilies } from "../../src/tasks/related/family-check.ts";
import { buildPrompt, makeFamilyPrompts, type RelatedPrompt } from "../../src/tasks/related/prompts.ts";
import { smallestNonDivisor } from "../../src/tasks/related/template.ts";

const family = (id: string): RelatedFamily => RELATED_FAMILIES.find((f) => f.id === id)!;

function prompt(id: string, century: number, yy: number, fillers: Record<string, string> = {}, earlier: number[] | null = null): RelatedPrompt {
  const result = buildPrompt(family(id), { century, yy, fillers, earlier });
  if (typeof result === "string") throw new Error(`family ${id}, YY ${yy}: excluded (${result})`);
  return result;
}

/** The token strings at YY and END, and the tokens' count. */
function shape(p: RelatedPrompt) {
  const pieces = toStrTokens(p.tokens);
  return { length: p.tokens.length, atYy: pieces[p.yyPosition], atYyMinus1: pieces[p.yyPosition - 1], atEnd: pieces[p.end], end: p.end };
}

describe("related families 0–9: prompts, corrupted prompts, positions", () => {
  it("lists the ten families with their masks", () => {
    expect(RELATED_FAMILIES.map((f) => f.id)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    expect(RELATED_FAMILIES.map((f) => f.mask).join("")).toBe(">>><>><<>>");
    for (const f of RELATED_FAMILIES) expect(() => checkRelatedFamily(f)).not.toThrow();
  });

  it("0: started … ended, corrupted 17YY → 1701", () => {
    const p = prompt("0", 17, 32, { noun: "war" });
    expect(p.text).toBe("<|endoftext|> The war started in the year 1732 and ended in the year 17");
    expect(p.corruptedText).toBe("<|endoftext|> The war started in the year 1701 and ended in the year 17");
    expect(shape(p)).toEqual({ length: 15, atYy: "32", atYyMinus1: " 17", atEnd: " 17", end: 14 });
    expect(p.yyPosition).toBe(8);
    expect(p.corruptedTokens).toHaveLength(15);
  });

  it("1: happened … it is now the year", () => {
    const p = prompt("1", 17, 5, { noun: "trip" });
    expect(p.text).toBe("<|endoftext|> The trip happened in 1705. Some years later, it is now the year 17");
    expect(p.corruptedText).toBe("<|endoftext|> The trip happened in 1701. Some years later, it is now the year 17");
    expect(shape(p)).toEqual({ length: 18, atYy: "05", atYyMinus1: " 17", atEnd: " 17", end: 17 });
    expect(p.yyPosition).toBe(6);
  });

  it("2 and 3: fixed sequences, the decreasing one in the 1600s with corruption 1699", () => {
    const two = prompt("2", 17, 98);
    expect(two.text).toBe("<|endoftext|> 1599, 1607, 1633, 1679, 1798, 17");
    expect(two.corruptedText).toBe("<|endoftext|> 1599, 1607, 1633, 1679, 1701, 17");
    expect(shape(two)).toEqual({ length: 17, atYy: "98", atYyMinus1: " 17", atEnd: " 17", end: 16 });
    const three = prompt("3", 16, 50);
    expect(three.text).toBe("<|endoftext|> 1799, 1753, 1733, 1701, 1650, 16");
    expect(three.corruptedText).toBe("<|endoftext|> 1799, 1753, 1733, 1701, 1699, 16");
    expect(shape(three)).toEqual({ length: 17, atYy: "50", atYyMinus1: " 16", atEnd: " 16", end: 16 });
    expect(family("3").mask).toBe("<");
  });

  it("4: step i is the smallest integer ≥ 2 not dividing YY; the corruption is 1693 … 1701", () => {
    expect([1, 2, 6, 12, 32, 60, 97].map(smallestNonDivisor)).toEqual([2, 3, 4, 5, 3, 7, 2]);
    expect(prompt("4", 17, 32).text).toBe("<|endoftext|> 1720, 1723, 1726, 1729, 1732, 17");
    expect(prompt("4", 17, 33).text).toBe("<|endoftext|> 1725, 1727, 1729, 1731, 1733, 17");
    const p = prompt("4", 17, 12);
    expect(p.text).toBe("<|endoftext|> 1692, 1697, 1702, 1707, 1712, 17");
    expect(p.corruptedText).toBe("<|endoftext|> 1693, 1695, 1697, 1699, 1701, 17");
    expect(shape(p)).toEqual({ length: 17, atYy: "12", atYyMinus1: " 17", atEnd: " 17", end: 16 });
  });

  it("5: YY is smaller than", () => {
    const p = prompt("5", 17, 41);
    expect(p.text).toBe("<|endoftext|> 1741 is smaller than 17");
    expect(p.corruptedText).toBe("<|endoftext|> 1701 is smaller than 17");
    expect(shape(p)).toEqual({ length: 7, atYy: "41", atYyMinus1: " 17", atEnd: " 17", end: 6 });
    expect(family("5").mask).toBe(">");
  });

  it("6: ended … started, mask <, corruption 1799", () => {
    const p = prompt("6", 17, 41, { noun: "war" });
    expect(p.text).toBe("<|endoftext|> The war ended in the year 1741 and started in the year 17");
    expect(p.corruptedText).toBe("<|endoftext|> The war ended in the year 1799 and started in the year 17");
    expect(shape(p)).toEqual({ length: 15, atYy: "41", atYyMinus1: " 17", atEnd: " 17", end: 14 });
    expect(family("6").mask).toBe("<");
  });

  it("7: BC years split as \" 7\" + \"YY\"; those GPT-2 writes as one 3-digit token are excluded", () => {
    const p = prompt("7", 7, 32, { noun: "war" });
    expect(p.text).toBe("<|endoftext|> The war lasted from the year 732 BC to the year 7");
    expect(p.corruptedText).toBe("<|endoftext|> The war lasted from the year 799 BC to the year 7");
    expect(shape(p)).toEqual({ length: 14, atYy: "32", atYyMinus1: " 7", atEnd: " 7", end: 13 });
    expect(family("7").mask).toBe("<");
    for (const yy of [2, 20, 37, 47, 50, 60, 68, 70, 77, 80]) {
      expect(buildPrompt(family("7"), { century: 7, yy, fillers: { noun: "war" }, earlier: null }), `7${yy}`).toBe("year_split");
    }
    const all = makeFamilyPrompts(family("7"), { n: 97, seed: 0 });
    expect(all.excluded).toEqual({ year_split: 10 });
    expect(all.prompts).toHaveLength(87);
  });

  it("8: prices, twenty single-token items", () => {
    const items = family("8").fillers!.item!;
    expect(items).toHaveLength(20);
    for (const item of items) expect(toStrTokens(` ${item}`)).toHaveLength(1);
    const p = prompt("8", 17, 32, { item: "house" });
    expect(p.text).toBe("<|endoftext|> The price of that house ranges from $ 1732 to $ 17");
    expect(p.corruptedText).toBe("<|endoftext|> The price of that house ranges from $ 1701 to $ 17");
    expect(shape(p)).toEqual({ length: 14, atYy: "32", atYyMinus1: " 17", atEnd: " 17", end: 13 });
  });

  it("9: five increasing years of one century without <|endoftext|>; the last → XX01", () => {
    const p = prompt("9", 15, 38, {}, [1510, 1511, 1515, 1521]);
    expect(p.text).toBe("1510, 1511, 1515, 1521, 1538, 15");
    expect(p.corruptedText).toBe("1510, 1511, 1515, 1521, 1501, 15");
    expect(toStrTokens(p.tokens).slice(0, 2)).toEqual(["15", "10"]);
    expect(shape(p)).toEqual({ length: 16, atYy: "38", atYyMinus1: " 15", atEnd: " 15", end: 15 });
    const all = makeFamilyPrompts(family("9"), { n: 97, seed: 3 });
    for (const q of all.prompts) {
      expect(q.tokens[0]).not.toBe(50256);
      const years = q.text.split(", ").slice(0, 5).map(Number);
      expect(years.every((y, i) => i === 0 || y > years[i - 1]!), q.text).toBe(true);
      expect(new Set(years.map((y) => Math.floor(y / 100))).size).toBe(1);
    }
    // YY 02…05 leave no room for four valid earlier years (the first year of a century is not valid).
    expect(all.excluded.no_earlier_years).toBeGreaterThanOrEqual(4);
  });

  it("every kept prompt has YY and END where their tokens are, and a corrupted twin of the same length", () => {
    for (const f of RELATED_FAMILIES) {
      const { prompts, requested, excluded } = makeFamilyPrompts(f, { n: 97, seed: 1 });
      expect(prompts.length + Object.values(excluded).reduce((a, b) => a + b, 0)).toBe(requested);
      for (const p of prompts) {
        const pieces = toStrTokens(p.tokens);
        expect(pieces[p.yyPosition], p.text).toBe(String(p.yy).padStart(2, "0"));
        expect(pieces[p.yyPosition - 1]!.trim(), p.text).toBe(String(p.century));
        expect(pieces[p.end]!.trim(), p.text).toBe(String(p.century));
        expect(p.end).toBe(p.tokens.length - 1);
        expect(p.corruptedTokens).toHaveLength(p.tokens.length);
      }
    }
  });

  it("is deterministic in the seed", () => {
    const a = makeFamilyPrompts(family("0"), { n: 20, seed: 7 }).prompts.map((p) => p.text);
    const b = makeFamilyPrompts(family("0"), { n: 20, seed: 7 }).prompts.map((p) => p.text);
    const c = makeFamilyPrompts(family("0"), { n: 20, seed: 8 }).prompts.map((p) => p.text);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

describe("families as data", () => {
  const json = JSON.stringify([
    { id: "mine", name: "before", template: "<|endoftext|> {year} came before {XX}", corrupted: "<|endoftext|> {XX}01 came before {XX}", mask: "<", centuries: [17], yy: [10, 20] },
  ]);

  it("a JSON family makes prompts like the built-in ones", () => {
    const [mine] = parseRelatedFamilies(json, "mine.json");
    const { prompts } = makeFamilyPrompts(mine!, { n: 11, seed: 0 });
    expect(prompts.map((p) => p.yy)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(prompts[0]!.text).toBe("<|endoftext|> 1710 came before 17");
  });

  it.each([
    ["not JSON", "{", /not valid JSON/],
    ["an empty list", "[]", /non-empty array/],
    ["a bad mask", JSON.stringify([{ ...JSON.parse(json)[0], mask: ">=" }]), /mask must be ">" or "<"/],
    ["an unknown placeholder", JSON.stringify([{ ...JSON.parse(json)[0], template: "{noun} {year} {XX}" }]), /unknown placeholder \{noun\}/],
    ["no {year}", JSON.stringify([{ ...JSON.parse(json)[0], template: "{XX}01 {XX}" }]), /\{year\} exactly once/],
    ["no {XX} at the end", JSON.stringify([{ ...JSON.parse(json)[0], corrupted: "{XX}01 came" }]), /must end with \{XX\}/],
    ["a yy range past 98", JSON.stringify([{ ...JSON.parse(json)[0], yy: [2, 99] }]), /yy must be/],
  ])("rejects %s with a typed error", (_, text, message) => {
    let error: unknown;
    try {
      parseRelatedFamilies(text, "f.json");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).code).toBe("bad_family");
    expect((error as Error).message).toMatch(message);
  });
});
