/**
 * The related prompt families of Hanna, Liu & Variengien (2023, section 5), as data: a family is a
 * template, its corrupted template, the mask of the metric and where its year comes from. A user adds
 * a family the same way (a TS object, or JSON read with `parseRelatedFamilies`).
 *
 * Placeholders (see template.ts): {XX} the century as written, {YY} the two-digit year, {year} the
 * year XXYY (its YY token is the prompt's YY position), {year+N} / {year-N} / {year+Ni} / {year-Ni}
 * that year moved by N or N·i (i: the smallest integer ≥ 2 that does not divide YY),
 * {earlier1}…{earlier4} four increasing valid years of the century before {year} (drawn with the
 * seed), and {name} a word drawn from `fillers[name]`.
 */
import { GREATER_THAN_NOUNS } from "../greater-than/nouns.ts";

/** ">": the correct years are those after YY; "<": those before YY. */
export type YearMask = ">" | "<";

export interface RelatedFamily {
  readonly id: string;
  readonly name: string;
  /** The clean prompt; written whole, `<|endoftext|>` included where wanted. */
  readonly template: string;
  /** The corrupted prompt, same placeholders; must tokenize to as many tokens as the clean one. */
  readonly corrupted: string;
  readonly mask: YearMask;
  /** Centuries XX to draw from (one per prompt, with the seed). */
  readonly centuries: readonly number[];
  /** Inclusive range of YY; prompt k has YY = first + (k mod (last − first + 1)). Default [2, 98]. */
  readonly yy?: readonly [number, number];
  /** Word lists for {name} placeholders. */
  readonly fillers?: Readonly<Record<string, readonly string[]>>;
}

/** Twenty things with a price, each one GPT-2 token after a space. */
export const PRICE_ITEMS: readonly string[] = Object.freeze([
  "house", "car", "book", "ticket", "watch", "painting", "chair", "table", "bike", "phone",
  "computer", "camera", "guitar", "ring", "horse", "boat", "coat", "lamp", "desk", "piano",
]);

const nouns = { noun: GREATER_THAN_NOUNS };
const EOT = "<|endoftext|>";

/** Families 0–9 of issue 16 (the paper's section 5 prompts). */
export const RELATED_FAMILIES: readonly RelatedFamily[] = Object.freeze([
  {
    id: "0", name: "started … ended",
    template: `${EOT} The {noun} started in the year {year} and ended in the year {XX}`,
    corrupted: `${EOT} The {noun} started in the year {XX}01 and ended in the year {XX}`,
    mask: ">", centuries: [17], fillers: nouns,
  },
  {
    id: "1", name: "happened … now",
    template: `${EOT} The {noun} happened in {year}. Some years later, it is now the year {XX}`,
    corrupted: `${EOT} The {noun} happened in {XX}01. Some years later, it is now the year {XX}`,
    mask: ">", centuries: [17], fillers: nouns,
  },
  {
    id: "2", name: "increasing sequence",
    template: `${EOT} 1599, 1607, 1633, 1679, {year}, {XX}`,
    corrupted: `${EOT} 1599, 1607, 1633, 1679, {XX}01, {XX}`,
    mask: ">", centuries: [17],
  },
  {
    id: "3", name: "decreasing sequence",
    template: `${EOT} 1799, 1753, 1733, 1701, {year}, {XX}`,
    corrupted: `${EOT} 1799, 1753, 1733, 1701, {XX}99, {XX}`,
    mask: "<", centuries: [16],
  },
  {
    id: "4", name: "arithmetic sequence (step i)",
    template: `${EOT} {year-4i}, {year-3i}, {year-2i}, {year-1i}, {year}, {XX}`,
    corrupted: `${EOT} 1693, 1695, 1697, 1699, 1701, {XX}`,
    mask: ">", centuries: [17],
  },
  {
    id: "5", name: "is smaller than",
    template: `${EOT} {year} is smaller than {XX}`,
    corrupted: `${EOT} {XX}01 is smaller than {XX}`,
    mask: ">", centuries: [17],
  },
  {
    id: "6", name: "ended … started",
    template: `${EOT} The {noun} ended in the year {year} and started in the year {XX}`,
    corrupted: `${EOT} The {noun} ended in the year {XX}99 and started in the year {XX}`,
    mask: "<", centuries: [17], fillers: nouns,
  },
  {
    id: "7", name: "BC years",
    template: `${EOT} The {noun} lasted from the year {year} BC to the year {XX}`,
    corrupted: `${EOT} The {noun} lasted from the year {XX}99 BC to the year {XX}`,
    mask: "<", centuries: [7], fillers: nouns,
  },
  {
    id: "8", name: "prices",
    template: `${EOT} The price of that {item} ranges from $ {year} to $ {XX}`,
    corrupted: `${EOT} The price of that {item} ranges from $ {XX}01 to $ {XX}`,
    mask: ">", centuries: [17], fillers: { item: PRICE_ITEMS },
  },
  {
    id: "9", name: "five increasing years, no <|endoftext|>",
    template: "{earlier1}, {earlier2}, {earlier3}, {earlier4}, {year}, {XX}",
    corrupted: "{earlier1}, {earlier2}, {earlier3}, {earlier4}, {XX}01, {XX}",
    mask: ">", centuries: [11, 12, 13, 14, 15, 16, 17, 18],
  },
]);
