/**
 * The greater-than prompts of Hanna, Liu & Variengien (2023):
 *   "<|endoftext|> The {noun} lasted from the year {XXYY} to the year {XX}"
 * The model should continue with a two-digit year greater than YY. The corrupted twin of each prompt
 * starts in XX01 instead: almost every year is greater than 01, so it carries no useful YY.
 *
 * The set is balanced over YY: prompt i has YY = 02 + (i mod 97), cycling through 02..98; its noun
 * and its century are drawn with a seeded generator among the centuries where XXYY is a valid year
 * and XX01 splits as " XX" + "01" too — so clean and corrupted prompts differ only in the YY token.
 * (That leaves out the 1000s: " 1001" is " 100" + "1".)
 */
import { InputError } from "../../errors.ts";
import { toTokenBatch, toTokens, type TokenBatch } from "../../gpt2/tokenizer.ts";
import { seededRandom } from "../random.ts";
import { GREATER_THAN_NOUNS } from "./nouns.ts";
import { twoDigits, validYears, yearSplitChecker } from "./years.ts";

/** Token positions in every 13-token prompt: the century of the start year, its YY, the last token. */
export const GT_POSITIONS = Object.freeze({ XX1: 7, YY: 8, END: 12 } as const);
export const GT_PROMPT_LENGTH = 13;

const FIRST_YY = 2;
const LAST_YY = 98;
const YY_CYCLE_LENGTH = LAST_YY - FIRST_YY + 1;

export interface GreaterThanDatasetOptions {
  n: number;
  seed: number;
  /** Default: the paper's 120 nouns. Each must be one token after a space. */
  nouns?: readonly string[];
  /** Start years to draw from. Default: `validYears()` (1000–1899, of which the 1000s are unusable). */
  years?: readonly number[];
}

export interface GreaterThanDataset {
  prompts: string[];
  corruptedPrompts: string[];
  tokens: TokenBatch;
  corruptedTokens: TokenBatch;
  /** Two-digit start year per prompt (e.g. 32 for 1732). */
  yy: Int32Array;
  /** Century per prompt (e.g. 17 for 1732). */
  xx: Int32Array;
  /** Noun per prompt. */
  nouns: string[];
}

export function greaterThanPrompt(noun: string, startYear: number): string {
  const century = Math.floor(startYear / 100);
  return `<|endoftext|> The ${noun} lasted from the year ${century}${twoDigits(startYear % 100)} to the year ${century}`;
}

export function makeGreaterThanDataset(options: GreaterThanDatasetOptions): GreaterThanDataset {
  const { n, seed } = options;
  if (!Number.isInteger(n) || n <= 0) throw new InputError(`n must be a positive integer, got ${n}`, "bad_dataset_size");
  const nounChoices = options.nouns ?? GREATER_THAN_NOUNS;
  checkNouns(nounChoices);
  const centuriesByYy = centuriesByTwoDigitYear(options.years ?? validYears(), Math.min(n, YY_CYCLE_LENGTH));
  const random = seededRandom(seed);

  const prompts: string[] = [];
  const corruptedPrompts: string[] = [];
  const nouns: string[] = [];
  const yy = new Int32Array(n);
  const xx = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    yy[i] = FIRST_YY + (i % YY_CYCLE_LENGTH);
    const noun = random.pick(nounChoices);
    xx[i] = random.pick(centuriesByYy.get(yy[i]) ?? []);
    prompts.push(greaterThanPrompt(noun, xx[i] * 100 + yy[i]));
    corruptedPrompts.push(greaterThanPrompt(noun, xx[i] * 100 + 1));
    nouns.push(noun);
  }
  const tokens = thirteenTokenBatch(prompts);
  const corruptedTokens = thirteenTokenBatch(corruptedPrompts);
  return { prompts, corruptedPrompts, tokens, corruptedTokens, yy, xx, nouns };
}

export function thirteenTokenBatch(prompts: readonly string[]): TokenBatch {
  const batch = toTokenBatch(prompts);
  if (batch.pos !== GT_PROMPT_LENGTH) {
    throw new InputError(`greater-than prompts must be ${GT_PROMPT_LENGTH} tokens, these are ${batch.pos}`, "bad_prompt_length");
  }
  return batch;
}

function checkNouns(nouns: readonly string[]): void {
  if (nouns.length === 0) throw new InputError("the noun list is empty", "empty_choice");
  for (const noun of nouns) {
    if (toTokens(` ${noun}`).length !== 1) {
      throw new InputError(`noun "${noun}" is not a single GPT-2 token after a space`, "noun_not_single_token");
    }
  }
}

/**
 * Centuries available for each YY, among centuries whose XX01 splits as " XX" + "01"; the first
 * `yyCount` YYs from 02 must each have one.
 */
function centuriesByTwoDigitYear(years: readonly number[], yyCount: number): Map<number, number[]> {
  const splits = yearSplitChecker();
  const centuriesByYy = new Map<number, number[]>();
  for (const year of new Set(years)) {
    if (!Number.isInteger(year) || year < 1000 || year > 9999) {
      throw new InputError(`start year ${year} is not a four-digit year`, "bad_year");
    }
    if (!splits(Math.floor(year / 100) * 100 + 1)) continue;
    const yy = year % 100;
    const centuries = centuriesByYy.get(yy) ?? [];
    centuries.push(Math.floor(year / 100));
    centuriesByYy.set(yy, centuries);
  }
  const uncovered: number[] = [];
  for (let yy = FIRST_YY; yy < FIRST_YY + yyCount; yy++) if (!centuriesByYy.has(yy)) uncovered.push(yy);
  if (uncovered.length > 0) {
    throw new InputError(
      `no start year ends in ${uncovered.map(twoDigits).join(", ")}; the YY cycle 02..98 needs each of them`,
      "years_miss_yy",
    );
  }
  return centuriesByYy;
}
