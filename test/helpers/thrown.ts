import { expect } from "vitest";

/** The error `fn` throws, asserted to be an instance of `kind` (and to have `code`, when given). */
export function thrownBy<E extends Error>(fn: () => unknown, kind: abstract new (...args: never[]) => E, code?: string): E {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a ${kind.name}`).toBeInstanceOf(kind);
  if (code !== undefined) expect((caught as E & { code?: string }).code).toBe(code);
  return caught as E;
}
