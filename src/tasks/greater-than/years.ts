/**
 * Which years the greater-than task may use. A start year XXYY is usable when GPT-2 reads " XXYY"
 * as exactly two tokens, " XX" then "YY" — so that the model sees the century and the two-digit
 * year it must compare against as separate tokens. As in the paper's code, the first and last such
 * year of every century are dropped as well.
 */
import { InputError } from "../../errors.ts";
import { toTokens } from "../../gpt2/tokenizer.ts";

export type Tokenize = (text: string) => readonly number[];

/** "00".."99" with two digits. */
export function twoDigits(value: number): string {
  return String(value).padStart(2, "0");
}

/** Ids of the 100 tokens "00".."99" (no leading space), indexed by the two-digit year. */
export function yearTokenIds(tokenize: Tokenize = toTokens): number[] {
  return Array.from({ length: 100 }, (_, yy) => singleToken(tokenize, twoDigits(yy)));
}

/** Valid start years in the inclusive `range`, ascending. */
export function validYears(tokenize: Tokenize = toTokens, range: readonly [number, number] = [1000, 1899]): number[] {
  const [first, last] = range;
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1000 || last > 9999 || first > last) {
    throw new InputError(`year range [${first}, ${last}] must be whole four-digit years, first <= last`, "bad_year_range");
  }
  const splits = yearSplitChecker(tokenize);
  const yearsByCentury = new Map<number, number[]>();
  for (let year = first; year <= last; year++) {
    if (!splits(year)) continue;
    const century = Math.floor(year / 100);
    const years = yearsByCentury.get(century) ?? [];
    years.push(year);
    yearsByCentury.set(century, years);
  }
  return [...yearsByCentury.values()].flatMap((years) => years.slice(1, -1));
}

/**
 * A test of whether " XXYY" tokenizes to exactly [" XX", "YY"]. (" 1001", for one, does not: it is
 * " 100" + "1".)
 */
export function yearSplitChecker(tokenize: Tokenize = toTokens): (year: number) => boolean {
  const yearTokens = yearTokenIds(tokenize);
  const centuryTokens = new Map<number, number | undefined>();
  return (year) => {
    const century = Math.floor(year / 100);
    if (!centuryTokens.has(century)) centuryTokens.set(century, singleTokenOrUndefined(tokenize, ` ${century}`));
    const tokens = tokenize(` ${year}`);
    return tokens.length === 2 && tokens[0] === centuryTokens.get(century) && tokens[1] === yearTokens[year % 100];
  };
}

function singleToken(tokenize: Tokenize, text: string): number {
  const token = singleTokenOrUndefined(tokenize, text);
  if (token === undefined) throw new InputError(`"${text}" is not a single token for this tokenizer`, "not_single_token");
  return token;
}

function singleTokenOrUndefined(tokenize: Tokenize, text: string): number | undefined {
  const tokens = tokenize(text);
  return tokens.length === 1 ? tokens[0] : undefined;
}
