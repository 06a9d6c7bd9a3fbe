/** The loaders' backend and options arguments are checked before anything is read. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { loadGpt2FromBytes } from "../../src/gpt2/load.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import type { MatmulBackend } from "../../src/tensor/matmul.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => undefined, (error: unknown) => error);
}

function syncError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("backend argument", () => {
  const sources = { config: readFileSync(join(TINY_DIR, "config.json"), "utf8"), weights: new Uint8Array(readFileSync(join(TINY_DIR, "model.safetensors"))) };

  it.each([
    ["a choice string", "wasm", /got the string "wasm" \(for a choice, pass selectNodeBackend\("wasm"\)\)/],
    ["another string", "fast", /got the string "fast"$/],
    ["a number", 3, /got 3$/],
    ["an object that is no backend", { name: "mine" }, /got an object without a name, prepare, prepareTransposed and matmul/],
  ])("%s is bad_backend, for loadGpt2FromDir and loadGpt2FromBytes", async (_, bad, detail) => {
    const backend = bad as unknown as MatmulBackend;
    const fromDir = await rejection(loadGpt2FromDir(join(TINY_DIR, "no-such-dir"), backend));
    const fromBytes = syncError(() => loadGpt2FromBytes(sources, backend));
    for (const [error, where] of [[fromDir, "loadGpt2FromDir"], [fromBytes, "loadGpt2FromBytes"]] as const) {
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).code).toBe("bad_backend");
      expect((error as InputError).message).toMatch(new RegExp(`^${where}: backend must be a MatmulBackend, `));
      expect((error as InputError).message).toMatch(detail);
    }
  });
});
