/**
 * The prompts of one related family: prompt k has YY = first + (k mod count) and a century, fillers
 * and (where used) earlier years drawn with the seed. A prompt is kept only when every year it writes
 * tokenizes as century + YY (" 17" + "32"; family 7's " 7" + "32", not the 3-digit " 737"), its last
 * token is the century and its corrupted twin has as many tokens. Positions are found by content:
 * YY is the token holding {year}'s two digits, END the last token.
 */
import { decodeTokens, toTokens } from "../../gpt2/tokenizer.ts";
import { seededRandom, type SeededRandom } from "../random.ts";
import { validYears } from "../greater-than/years.ts";
import type { RelatedFamily } from "./families.ts";
import { checkRelatedFamily } from "./family-check.ts";
import { renderTemplate, type TemplateVariables, usesEarlierYears, type YearSpan } from "./template.ts";

export interface RelatedPrompt {
  readonly text: string;
  readonly corruptedText: string;
  readonly tokens: readonly number[];
  readonly corruptedTokens: readonly number[];
  readonly yy: number;
  readonly century: number;
  /** Position of the {year}'s YY token. */
  readonly yyPosition: number;
  /** The last position, whose logits are read. */
  readonly end: number;
}

/** Why a prompt was dropped. */
export type ExclusionReason = "year_split" | "end_token" | "corrupted_length" | "no_earlier_years";

export interface FamilyPrompts {
  readonly family: RelatedFamily;
  readonly prompts: readonly RelatedPrompt[];
  readonly requested: number;
  readonly excluded: Readonly<Partial<Record<ExclusionReason, number>>>;
}

export function makeFamilyPrompts(family: RelatedFamily, options: { n: number; seed: number }): FamilyPrompts {
  checkRelatedFamily(family);
  const random = seededRandom(options.seed);
  const [first, last] = family.yy ?? [2, 98];
  const needsEarlier = usesEarlierYears(family.template) || usesEarlierYears(family.corrupted);
  const prompts: RelatedPrompt[] = [];
  const excluded: Partial<Record<ExclusionReason, number>> = {};
  for (let k = 0; k < options.n; k++) {
    const yy = first + (k % (last - first + 1));
    const century = random.pick(family.centuries);
    const fillers = Object.fromEntries(Object.entries(family.fillers ?? {}).map(([name, words]) => [name, random.pick(words)]));
    const earlier = needsEarlier ? earlierYears(century, yy, random) : null;
    const result = earlier === undefined ? "no_earlier_years" : buildPrompt(family, { century, yy, fillers, earlier });
    if (typeof result === "string") excluded[result] = (excluded[result] ?? 0) + 1;
    else prompts.push(result);
  }
  return { family, prompts, requested: options.n, excluded };
}

export function buildPrompt(family: RelatedFamily, vars: TemplateVariables): RelatedPrompt | ExclusionReason {
  const clean = renderTemplate(family.template, vars);
  const corrupted = renderTemplate(family.corrupted, vars);
  const tokens = toTokens(clean.text);
  const offsets = tokenOffsets(tokens);
  let yyPosition = -1;
  for (const span of clean.years) {
    const at = splitPosition(clean.text, offsets, span);
    if (at === null) return "year_split";
    if (span.isMain) yyPosition = at;
  }
  const end = tokens.length - 1;
  if (decodeTokens([tokens[end]!]).trimStart() !== String(vars.century) || offsets[end + 1] !== clean.text.length) return "end_token";
  const corruptedTokens = toTokens(corrupted.text);
  if (corruptedTokens.length !== tokens.length) return "corrupted_length";
  return { text: clean.text, corruptedText: corrupted.text, tokens, corruptedTokens, yy: vars.yy, century: vars.century, yyPosition, end };
}

/** Character offset where each token starts, plus the text's length at the end. */
function tokenOffsets(tokens: readonly number[]): number[] {
  return Array.from({ length: tokens.length + 1 }, (_, k) => decodeTokens(tokens.slice(0, k)).length);
}

/**
 * The position of the year's YY token when the year is exactly two tokens, century (with the space
 * before it, if any) then the two YY digits; null otherwise.
 */
function splitPosition(text: string, offsets: readonly number[], span: YearSpan): number | null {
  const digits = text.slice(span.start, span.end);
  if (digits.length < 3) return null;
  const centuryStart = span.start > 0 && text[span.start - 1] === " " ? span.start - 1 : span.start;
  const yyStart = span.end - 2;
  const first = offsets.indexOf(centuryStart);
  if (first < 0 || offsets[first + 1] !== yyStart || offsets[first + 2] !== span.end) return null;
  return first + 1;
}

/** Four distinct valid years of the century before YY, increasing; undefined when there are fewer than four. */
function earlierYears(century: number, yy: number, random: SeededRandom): number[] | undefined {
  const candidates = centuryYears(century).filter((year) => year % 100 < yy);
  if (candidates.length < 4) return undefined;
  const chosen = new Set<number>();
  while (chosen.size < 4) chosen.add(random.pick(candidates));
  return [...chosen].sort((a, b) => a - b);
}

const yearsByCentury = new Map<number, number[]>();

/** The century's years usable as in the main task (split as " XX" + "YY", first and last dropped). */
function centuryYears(century: number): number[] {
  let years = yearsByCentury.get(century);
  if (years === undefined) {
    years = century >= 10 ? validYears(toTokens, [century * 100, century * 100 + 99]) : [];
    yearsByCentury.set(century, years);
  }
  return years;
}

