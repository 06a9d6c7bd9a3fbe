/** Assert that `run` throws a Gpt2LensError with code "bad_figure_input" whose message matches `pattern`. */

import { expect } from "vitest";
import { Gpt2LensError } from "../../src/errors.ts";

export function expectBadFigureInput(run: () => unknown, pattern: RegExp): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, "expected a bad_figure_input error").toBeInstanceOf(Gpt2LensError);
  expect((thrown as Gpt2LensError).code).toBe("bad_figure_input");
  expect((thrown as Error).message).toMatch(pattern);
}
