/**
 * Renders a related-family template for one prompt's variables and says where each year is written,
 * so the prompt generator can check how the years tokenize. Placeholders are listed in families.ts.
 */
import { InputError } from "../../errors.ts";
import { twoDigits } from "../greater-than/years.ts";

export interface TemplateVariables {
  readonly century: number;
  readonly yy: number;
  readonly fillers: Readonly<Record<string, string>>;
  /** Four increasing years before {year}, when the template uses {earlier1}…{earlier4}. */
  readonly earlier: readonly number[] | null;
}

export interface YearSpan {
  /** Character offsets of the year's digits in the rendered text. */
  readonly start: number;
  readonly end: number;
  readonly year: number;
  /** True for the {year} placeholder itself: its YY token is the prompt's YY position. */
  readonly isMain: boolean;
}

export interface RenderedTemplate {
  readonly text: string;
  readonly years: readonly YearSpan[];
}

const PLACEHOLDER = /\{([^{}]*)\}/g;
const YEAR = /^year(?:([+-])(\d+)(i?))?$/;
const EARLIER = /^earlier([1-4])$/;

/** The smallest integer ≥ 2 that does not divide yy (family 4's step). */
export function smallestNonDivisor(yy: number): number {
  let step = 2;
  while (yy % step === 0) step++;
  return step;
}

/** Placeholder names a template uses, in order. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((match) => match[1]!);
}

export function usesEarlierYears(template: string): boolean {
  return placeholders(template).some((name) => EARLIER.test(name));
}

/** Throws InputError (`code`, default `bad_template`) for a placeholder that is none of the known kinds. */
export function checkPlaceholder(name: string, fillerNames: readonly string[], where: string, code = "bad_template"): void {
  if (name === "XX" || name === "YY" || YEAR.test(name) || EARLIER.test(name) || fillerNames.includes(name)) return;
  throw new InputError(
    `${where}: unknown placeholder {${name}}; expected {XX}, {YY}, {year}, {year±N}, {year±Ni}, {earlier1}…{earlier4}` +
      (fillerNames.length ? ` or a filler (${fillerNames.map((f) => `{${f}}`).join(", ")})` : ""),
    code,
  );
}

export function renderTemplate(template: string, vars: TemplateVariables): RenderedTemplate {
  const years: YearSpan[] = [];
  let text = "";
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    text += template.slice(last, match.index);
    last = match.index! + match[0].length;
    const name = match[1]!;
    const year = yearValue(name, vars);
    if (year !== null) {
      const start = text.length;
      text += String(year);
      years.push({ start, end: text.length, year, isMain: name === "year" });
      continue;
    }
    text += wordValue(name, vars);
  }
  return { text: text + template.slice(last), years };
}

function yearValue(name: string, vars: TemplateVariables): number | null {
  const year = vars.century * 100 + vars.yy;
  const moved = YEAR.exec(name);
  if (moved) {
    if (moved[1] === undefined) return year;
    const amount = Number(moved[2]) * (moved[3] ? smallestNonDivisor(vars.yy) : 1);
    return moved[1] === "+" ? year + amount : year - amount;
  }
  const earlier = EARLIER.exec(name);
  if (earlier) {
    const value = vars.earlier?.[Number(earlier[1]) - 1];
    if (value === undefined) throw new InputError(`{${name}} needs four earlier years`, "bad_template");
    return value;
  }
  return null;
}

function wordValue(name: string, vars: TemplateVariables): string {
  if (name === "XX") return String(vars.century);
  if (name === "YY") return twoDigits(vars.yy);
  const word = vars.fillers[name];
  if (word === undefined) throw new InputError(`no value for placeholder {${name}}`, "bad_template");
  return word;
}
