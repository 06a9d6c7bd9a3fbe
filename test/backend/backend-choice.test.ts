/** Backend choices are checked where they enter: an unknown one is `bad_backend`, listing the valid ones. */
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { selectNodeBackend } from "../../src/backend/node-select.ts";
import { type BackendChoice, parseBackendChoice } from "../../src/backend/choice.ts";
import { selectBackend } from "../../src/backend/select.ts";

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error("expected an error");
}

const VALID = ['"auto"', '"wasm"', '"wasm-threads"', '"reference"'];

describe("backend choices", () => {
  it.each([
    ["selectBackend", selectBackend],
    ["selectNodeBackend", selectNodeBackend],
  ] as const)("%s rejects an unknown choice, naming itself, the choice and the valid ones", (name, select) => {
    for (const bad of ["bogus", "WASM", "", 3, null]) {
      const error = errorOf(() => select(bad as BackendChoice));
      expect(error.code).toBe("bad_backend");
      expect(error.message).toContain(`${name}:`);
      expect(error.message).toContain(typeof bad === "string" ? `"${bad}"` : String(bad));
      for (const valid of VALID) expect(error.message).toContain(valid);
    }
    expect(select("reference").name).toBe("reference");
  });

  it("a bad GPT2_LENS_BACKEND value is named as that variable's", () => {
    const error = errorOf(() => parseBackendChoice("threads"));
    expect(error.code).toBe("bad_backend");
    expect(error.message).toBe('GPT2_LENS_BACKEND="threads" is not one of auto, wasm, wasm-threads, reference');
    expect(parseBackendChoice(undefined)).toBe("auto");
    expect(parseBackendChoice("")).toBe("auto");
  });
});
