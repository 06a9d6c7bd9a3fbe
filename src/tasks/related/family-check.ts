/**
 * Checks a related family given as data (a TS object or parsed JSON) before any prompt is made, so a
 * mistake in a user's family is one message naming the field, not a failure deep in a run.
 */
import { InputError } from "../../errors.ts";
import type { RelatedFamily } from "./families.ts";
import { checkPlaceholder, placeholders } from "./template.ts";

export function checkRelatedFamily(family: RelatedFamily): void {
  const where = `family ${JSON.stringify(family?.id)}`;
  const fail = (message: string) => {
    throw new InputError(`${where}: ${message}`, "bad_family");
  };
  if (typeof family !== "object" || family === null) fail("must be an object");
  if (typeof family.id !== "string" || !/^[A-Za-z0-9_-]+$/.test(family.id)) fail("id must be letters, digits, \"-\" or \"_\"");
  if (typeof family.name !== "string" || family.name === "") fail("name must be a non-empty string");
  if (family.mask !== ">" && family.mask !== "<") fail(`mask must be ">" or "<", got ${JSON.stringify(family.mask)}`);
  if (!Array.isArray(family.centuries) || family.centuries.length === 0) fail("centuries must be a non-empty array");
  for (const century of family.centuries) {
    if (!Number.isInteger(century) || century < 1 || century > 99) fail(`century ${century} must be an integer 1…99`);
  }
  const [first, last] = family.yy ?? [2, 98];
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last > 98 || first > last) {
    fail(`yy must be [first, last] with 1 ≤ first ≤ last ≤ 98, got ${JSON.stringify(family.yy)}`);
  }
  const fillers = family.fillers ?? {};
  if (typeof fillers !== "object" || fillers === null || Array.isArray(fillers)) fail("fillers must be an object of word lists");
  for (const [name, words] of Object.entries(fillers)) {
    if (!Array.isArray(words) || words.length === 0 || words.some((w) => typeof w !== "string" || w === "")) {
      fail(`fillers.${name} must be a non-empty array of words`);
    }
  }
  for (const field of ["template", "corrupted"] as const) {
    const template = family[field];
    if (typeof template !== "string" || template === "") fail(`${field} must be a non-empty string`);
    for (const name of placeholders(template)) checkPlaceholder(name, Object.keys(fillers), `${where} ${field}`, "bad_family");
    if (!template.endsWith("{XX}")) fail(`${field} must end with {XX} (the century the model continues)`);
  }
  if (placeholders(family.template).filter((name) => name === "year").length !== 1) fail("template must hold {year} exactly once");
}

/** Families from JSON text: an array of family objects (fields as RelatedFamily), each checked. */
export function parseRelatedFamilies(json: string, source: string): RelatedFamily[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new InputError(`${source}: not valid JSON (${(error as Error).message})`, "bad_family");
  }
  if (!Array.isArray(value) || value.length === 0) throw new InputError(`${source}: expected a non-empty array of families`, "bad_family");
  const families = value as RelatedFamily[];
  families.forEach(checkRelatedFamily);
  return families;
}
