/**
 * Bad input of every kind is a Gpt2LensError subclass with a stable `code` and a message that names
 * the culprit (the token and its position, the hook name, the tensor, the file).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Gpt2LensError, InputError } from "../../src/errors.ts";
import { ModelLoadError } from "../../src/gpt2/config.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { toTokenBatch, toTokens } from "../../src/gpt2/tokenizer.ts";
import { HookError } from "../../src/hooks/hook-error.ts";
import type { HookName } from "../../src/gpt2/hook-names.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { SafetensorsError } from "../../src/io/safetensors.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

type ErrorClass = abstract new (...args: never[]) => Gpt2LensError;

/** Runs `fn`, expects a `type` with `code`, and returns its message for further checks. */
function expectError(fn: () => unknown, type: ErrorClass, code: string): string {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, "expected an error").toBeInstanceOf(type);
  expect(caught).toBeInstanceOf(Gpt2LensError);
  const error = caught as Gpt2LensError;
  expect(error.code, error.message).toBe(code);
  expect(error.name).toBe(type.name);
  return error.message;
}

async function expectLoadError(promise: Promise<unknown>, type: ErrorClass, code: string): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return expectError(() => {
    if (error !== undefined) throw error;
  }, type, code);
}

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const { nCtx, dVocab } = model.config;

describe("token ids", () => {
  it.each([-1, dVocab, 1e6, 2.5])("rejects id %s, naming its [batch, pos]", (bad) => {
    const tokens = [
      [1, 2, 3, 4],
      [5, 6, bad, 8],
    ];
    const message = expectError(() => model.run(tokens), InputError, "token_out_of_vocab");
    expect(message).toContain(String(bad));
    expect(message).toContain("[1, 2]");
  });

  it("checks a TokenBatch too, and before any hook fires", () => {
    let fired = 0;
    const ids = Int32Array.from([0, 50256, 50257]);
    const message = expectError(
      () => model.run({ ids, batch: 1, pos: 3 }, { hooks: [[() => true, () => void fired++]] }),
      InputError,
      "token_out_of_vocab",
    );
    expect(message).toContain("50257");
    expect(message).toContain("[0, 2]");
    expect(fired).toBe(0);
  });

  it("rejects a prompt longer than n_ctx, naming both lengths", () => {
    expect(() => model.run([Array.from({ length: nCtx }, (_, i) => i)])).not.toThrow();
    const message = expectError(() => model.run([Array.from({ length: nCtx + 1 }, (_, i) => i)]), InputError, "prompt_too_long");
    expect(message).toContain(String(nCtx + 1));
    expect(message).toContain(String(nCtx));
  });

  it("rejects ragged batches, naming the row", () => {
    const message = expectError(() => model.run([[1, 2, 3], [4, 5]]), InputError, "ragged_batch");
    expect(message).toContain("row 1");
  });

  it.each([
    ["[]", []],
    ["[[]]", [[]]],
    ["[[], []]", [[], []]],
  ])("rejects the empty prompt %s", (_, tokens) => {
    expect(expectError(() => model.run(tokens as number[][]), InputError, "empty_prompt")).toMatch(/empty/);
  });

  it('rejects the empty text "" in the tokenizer, naming the prompt in a batch', () => {
    expect(expectError(() => toTokens(""), InputError, "empty_prompt")).toMatch(/empty/);
    expect(expectError(() => toTokenBatch(["a b", ""]), InputError, "empty_prompt")).toContain("prompt 1");
    expect(toTokens("", { prependBos: true })).toEqual([50256]);
  });
});

describe("hook names", () => {
  it("rejects an unknown name in hooks, suggesting the nearest names", () => {
    const message = expectError(
      () => model.run([[1, 2]], { hooks: [["blocks.0.attn.hook_patern" as HookName, () => undefined]] }),
      HookError,
      "unknown_hook",
    );
    expect(message).toContain('"blocks.0.attn.hook_patern"');
    expect(message).toContain("hooks[0]");
    expect(message).toMatch(/did you mean "blocks\.0\.attn\.hook_pattern"/);
  });

  it("rejects an unknown name in the cache list, suggesting the nearest names", () => {
    const message = expectError(
      () => model.run([[1, 2]], { cache: ["hook_embed", "blocks.1.hook_resid_psot" as HookName] }),
      HookError,
      "unknown_hook",
    );
    expect(message).toContain('"blocks.1.hook_resid_psot"');
    expect(message).toContain("cache");
    expect(message).toContain('"blocks.1.hook_resid_post"');
  });

  it("names the model's layer range for a layer it does not have", () => {
    const message = expectError(
      () => model.run([[1, 2]], { hooks: [["blocks.7.hook_resid_pre" as HookName, () => undefined]] }),
      HookError,
      "unknown_hook",
    );
    expect(message).toContain('"blocks.7.hook_resid_pre"');
    expect(message).toContain("layers 0…1");
  });

  it("rejects an unknown stopAfter name", () => {
    const message = expectError(() => model.runUntil([[1]], "blocks.0.hook_q" as HookName), HookError, "unknown_hook");
    expect(message).toContain('"blocks.0.hook_q"');
    expect(message).toContain('"blocks.0.attn.hook_q"');
  });

  it("filters cannot name unknown hooks: they only ever see valid names, and may match none", () => {
    const seen: string[] = [];
    const filter = (name: HookName) => {
      seen.push(name);
      return (name as string) === "no.such.hook";
    };
    const { cache } = model.run([[1, 2]], { hooks: [[filter, () => undefined]], cache: filter });
    expect(cache.size).toBe(0);
    expect(seen.every((name) => model.hookNames.includes(name as HookName))).toBe(true);
  });

  it("asking the cache for an activation it lacks names it and the nearest cached ones", () => {
    const { cache } = model.run([[1, 2]], { cache: ["blocks.0.hook_resid_pre"] });
    const message = expectError(() => cache.get("blocks.0.hook_resid_post"), HookError, "not_cached");
    expect(message).toContain('"blocks.0.hook_resid_post"');
    expect(message).toContain("blocks.0.hook_resid_pre");
  });
});

describe("hook return values", () => {
  it("rejects a replacement of the wrong shape, naming the hook and both shapes", () => {
    const message = expectError(
      () => model.run([[1, 2, 3]], { hooks: [["blocks.1.mlp.hook_post", () => Tensor.zeros([1, 3, 7])]] }),
      HookError,
      "hook_wrong_shape",
    );
    expect(message).toContain('"blocks.1.mlp.hook_post"');
    expect(message).toContain("[1, 3, 7]");
    expect(message).toContain(`[1, 3, ${model.config.dMlp}]`);
  });

  it.each([
    ["a number", 0],
    ["null", null],
    ["a Float32Array", new Float32Array(3 * 32)],
    ["a tensor-like object", { data: new Float32Array(3 * 32), shape: [1, 3, 32] }],
  ])("rejects %s as a replacement, naming the hook", (_, value) => {
    const message = expectError(
      () => model.run([[1, 2, 3]], { hooks: [["hook_embed", () => value as unknown as Tensor]] }),
      HookError,
      "hook_bad_return",
    );
    expect(message).toContain('"hook_embed"');
  });
});

describe("model directories", () => {
  let root: string;
  const config = JSON.parse(readFileSync(join(TINY_DIR, "config.json"), "utf8")) as Record<string, unknown>;
  const weights = readFileSync(join(TINY_DIR, "model.safetensors"));

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "gpt2-lens-bad-input-"));
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  let count = 0;
  /** A fresh model dir holding the given config.json (object or raw text) and model.safetensors bytes. */
  function modelDir(files: { config?: Record<string, unknown> | string | null; weights?: Uint8Array | null }): string {
    const dir = join(root, `model-${count++}`);
    mkdirSync(dir);
    const configFile = files.config === undefined ? config : files.config;
    if (configFile !== null) {
      writeFileSync(join(dir, "config.json"), typeof configFile === "string" ? configFile : JSON.stringify(configFile));
    }
    if (files.weights === undefined) copyFileSync(join(TINY_DIR, "model.safetensors"), join(dir, "model.safetensors"));
    else if (files.weights !== null) writeFileSync(join(dir, "model.safetensors"), files.weights);
    return dir;
  }

  it("loads an untouched copy (the temp-dir setup itself is sound)", async () => {
    const loaded = await loadGpt2FromDir(modelDir({}));
    expect(loaded.config.nLayers).toBe(2);
  });

  it("n_embd disagreeing with the weights names the first tensor of the wrong shape", async () => {
    const dir = modelDir({ config: { ...config, n_embd: 64 } });
    const message = await expectLoadError(loadGpt2FromDir(dir), ModelLoadError, "config_mismatch");
    expect(message).toContain('"transformer.h.0.ln_1.weight"');
    expect(message).toContain("[32]");
    expect(message).toContain("[64]");
  });

  it("n_positions disagreeing with the weights names wpe", async () => {
    const dir = modelDir({ config: { ...config, n_positions: 128 } });
    const message = await expectLoadError(loadGpt2FromDir(dir), ModelLoadError, "config_mismatch");
    expect(message).toContain('"transformer.wpe.weight"');
  });

  it.each([1, 3])("n_layer = %i against 2 blocks of weights names both layer counts", async (nLayer) => {
    const dir = modelDir({ config: { ...config, n_layer: nLayer } });
    const message = await expectLoadError(loadGpt2FromDir(dir), ModelLoadError, "config_mismatch");
    expect(message).toContain("2 blocks");
    expect(message).toContain(`n_layer = ${nLayer}`);
  });

  it("an invalid config.json value names the key", async () => {
    const dir = modelDir({ config: { ...config, n_head: 0 } });
    expect(await expectLoadError(loadGpt2FromDir(dir), ModelLoadError, "bad_config")).toContain('"n_head"');
    const notJson = modelDir({ config: "{ n_layer: 2" });
    expect(await expectLoadError(loadGpt2FromDir(notJson), ModelLoadError, "bad_config")).toContain("config.json");
  });

  it("a missing config.json is named", async () => {
    const dir = modelDir({ config: null });
    const message = await expectLoadError(loadGpt2FromDir(dir), ModelLoadError, "missing_file");
    expect(message).toContain("config.json");
    expect(message).toContain(dir);
  });

  it("a missing model.safetensors is named", async () => {
    const dir = modelDir({ weights: null });
    const message = await expectLoadError(loadGpt2FromDir(dir), ModelLoadError, "missing_file");
    expect(message).toContain("model.safetensors");
    expect(message).toContain(dir);
  });

  it("a nonexistent model directory is named", async () => {
    const dir = join(root, "no-such-model");
    const message = await expectLoadError(loadGpt2FromDir(dir), ModelLoadError, "missing_file");
    expect(message).toContain(dir);
  });

  it("a safetensors file cut inside the data area is a SafetensorsError naming a tensor past the end", async () => {
    const dir = modelDir({ weights: weights.subarray(0, Math.floor(weights.length / 2)) });
    const message = await expectLoadError(loadGpt2FromDir(dir), SafetensorsError, "offset_out_of_range");
    expect(message).toMatch(/tensor "[^"]+"/);
    expect(message).toContain("end past the data area");
  });

  it("a safetensors file cut inside the header, or before the length prefix ends, is a SafetensorsError", async () => {
    const inHeader = modelDir({ weights: weights.subarray(0, 100) });
    expect(await expectLoadError(loadGpt2FromDir(inHeader), SafetensorsError, "header_length_out_of_range")).toContain(
      "runs past the end of the file",
    );
    const tiny = modelDir({ weights: weights.subarray(0, 5) });
    expect(await expectLoadError(loadGpt2FromDir(tiny), SafetensorsError, "header_too_small")).toContain("5 bytes");
    const empty = modelDir({ weights: new Uint8Array(0) });
    await expectLoadError(loadGpt2FromDir(empty), SafetensorsError, "header_too_small");
  });

  it("a malformed header is a SafetensorsError", async () => {
    const headerLength = Number(Buffer.from(weights).readBigUInt64LE(0));
    const broken = new Uint8Array(weights);
    broken.fill(0x20, 8, 8 + headerLength);
    broken.set(new TextEncoder().encode('{"wte.weight": {"dtype": "F32", nope}}'), 8);
    const dir = modelDir({ weights: broken });
    const message = await expectLoadError(loadGpt2FromDir(dir), SafetensorsError, "invalid_header_json");
    expect(message).toContain("not valid JSON");

    const notAnObject = new Uint8Array(weights);
    notAnObject.fill(0x20, 8, 8 + headerLength);
    notAnObject.set(new TextEncoder().encode("[]"), 8);
    const dir2 = modelDir({ weights: notAnObject });
    await expectLoadError(loadGpt2FromDir(dir2), SafetensorsError, "invalid_header_start");

    const wrongLength = new Uint8Array(weights);
    new DataView(wrongLength.buffer).setUint32(0, headerLength - 8, true);
    const dir3 = modelDir({ weights: wrongLength });
    const error = await loadGpt2FromDir(dir3).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(SafetensorsError);
  });

  it("a safetensors file that is not a GPT-2 checkpoint is named as such", async () => {
    const other = modelDir({ weights: readFileSync(join(TINY_DIR, "golden.safetensors")) });
    const message = await expectLoadError(loadGpt2FromDir(other), ModelLoadError, "missing_tensor");
    expect(message).toContain("wte.weight");
  });
});
