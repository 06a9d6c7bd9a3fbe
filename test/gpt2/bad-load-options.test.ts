/** The loaders' backend and options arguments are checked before anything is read. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { ModelLoadError } from "../../src/gpt2/config.ts";
import { loadGpt2FromBytes } from "../../src/gpt2/load.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { loadHookedGpt2 } from "../../src/hooks/node-load-hooked.ts";
import type { MatmulBackend } from "../../src/backend/backend.ts";
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

describe("onProgress", () => {
  it.each([
    ["the first call (after the header)", 1],
    ["a call while tensors are read", 5],
    ["the last call (size, size)", Infinity],
  ])("an error it throws on %s is passed on unchanged", async (_, failAt) => {
    const calls: [number, number][] = [];
    await loadGpt2FromDir(TINY_DIR, undefined, { onProgress: (done, total) => void calls.push([done, total]) });
    const at = Math.min(failAt, calls.length);
    for (const thrown of [new RangeError("stop here"), new ModelLoadError("bad_config", "mine"), "a string"]) {
      let count = 0;
      const error = await rejection(loadGpt2FromDir(TINY_DIR, undefined, {
        onProgress: () => {
          if (++count === at) throw thrown;
        },
      }));
      expect(error).toBe(thrown);
      if (thrown instanceof Error) expect(thrown.message).toMatch(/^(stop here|mine)$/);
      expect(count).toBe(at);
    }
  });

  it.each([
    ["a number", { onProgress: 5 }, "onProgress must be a function, got number"],
    ["null", { onProgress: null }, "onProgress must be a function, got null"],
    ["a string", { onProgress: "log" }, "onProgress must be a function, got string"],
    ["options null", null, "options must be an object, got null"],
  ])("%s is an InputError before anything is read", async (_, options, message) => {
    const error = await rejection(loadGpt2FromDir(join(TINY_DIR, "no-such-dir"), undefined, options as never));
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).code).toBe("bad_option");
    expect((error as InputError).message).toBe(`loadGpt2FromDir: ${message}`);
  });
});

describe("loadHookedGpt2", () => {
  it("passes onProgress on, and checks it like loadGpt2FromDir", async () => {
    const calls: [number, number][] = [];
    const model = await loadHookedGpt2(TINY_DIR, undefined, { onProgress: (done, total) => void calls.push([done, total]) });
    const size = readFileSync(join(TINY_DIR, "model.safetensors")).length;
    expect(model.config.nLayers).toBe(2);
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.at(-1)).toEqual([size, size]);
    const error = await rejection(loadHookedGpt2(TINY_DIR, undefined, { onProgress: 1 as never }));
    expect((error as InputError).code).toBe("bad_option");
  });
});
