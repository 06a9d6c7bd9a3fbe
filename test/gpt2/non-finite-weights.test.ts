/**
 * A checkpoint holding NaN or ±Infinity is refused at load, naming the tensor and the element, for
 * float32 and float16 files, from a directory (streamed) and from bytes. Before, it loaded silently
 * and gave NaN logits.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ModelLoadError } from "../../src/gpt2/config.ts";
import { loadGpt2FromBytes } from "../../src/gpt2/load.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { selectNodeBackend } from "../../src/backend/node-select.ts";
import { parseSafetensors, serializeSafetensors, type TensorToWrite } from "../../src/io/safetensors.ts";
import { readFixture, TINY_DIR } from "../helpers/fixtures.ts";

const work = mkdtempSync(join(tmpdir(), "gpt2-lens-non-finite-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Dtype = "F32" | "F16";

/** The tiny model's weights in `dtype`, with `value` written at `tensor`[`index`]. */
function damagedWeights(dtype: Dtype, tensor: string, index: number, value: number): Uint8Array {
  const original = readFixture("tiny-gpt2/model.safetensors");
  const tensors = new Map<string, TensorToWrite>();
  for (const name of original.names) {
    const data = Float32Array.from(original.getFloat32(name));
    if (name === tensor) data[index] = value;
    tensors.set(name, { dtype, shape: original.info(name).shape, data });
  }
  return serializeSafetensors(tensors);
}

let dirs = 0;
function modelDir(weights: Uint8Array): string {
  const dir = join(work, `model-${dirs++}`);
  mkdirSync(dir);
  copyFileSync(join(TINY_DIR, "config.json"), join(dir, "config.json"));
  writeFileSync(join(dir, "model.safetensors"), weights);
  return dir;
}

async function loadError(load: () => Promise<unknown>): Promise<ModelLoadError> {
  const error = await load().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected a ModelLoadError").toBeInstanceOf(ModelLoadError);
  expect((error as ModelLoadError).code).toBe("non_finite_weight");
  return error as ModelLoadError;
}

// A large matrix the WebAssembly backends pack straight from the read (never kept as a plain
// array), a bias read eagerly, and the tied embedding (packed as the unembedding).
const cases: [string, number, number, string][] = [
  ["transformer.h.0.attn.c_attn.weight", 2 * 96 + 5, NaN, "NaN at [2, 5]"],
  ["transformer.h.1.ln_2.bias", 7, Infinity, "Infinity at [7]"],
  ["transformer.wte.weight", 50256 * 32 + 31, -Infinity, "-Infinity at [50256, 31]"],
];

describe.each(["F32", "F16"] as const)("%s weights", (dtype) => {
  it.each(cases)("%s holding a non-finite value is named at load (directory, every backend)", async (tensor, index, value, where) => {
    const dir = modelDir(damagedWeights(dtype, tensor, index, value));
    for (const choice of ["reference", "wasm", "auto"] as const) {
      const error = await loadError(() => loadGpt2FromDir(dir, selectNodeBackend(choice)));
      expect(error.message).toBe(
        `${dir}: weights: tensor "${tensor}" holds ${where}; a checkpoint must hold finite numbers only (the file is damaged, or training diverged)`,
      );
    }
  });

  it("is refused from bytes too", async () => {
    const error = await loadError(async () =>
      loadGpt2FromBytes({ config: readFileSync(join(TINY_DIR, "config.json"), "utf8"), weights: damagedWeights(dtype, "transformer.h.0.mlp.c_proj.weight", 0, NaN) }),
    );
    expect(error.message).toContain('tensor "transformer.h.0.mlp.c_proj.weight" holds NaN at [0, 0]');
  });

  it("an undamaged copy in this dtype loads (the damage is what is refused)", async () => {
    const weights = damagedWeights(dtype, "none", 0, 0);
    expect(parseSafetensors(weights).info("transformer.wte.weight").dtype).toBe(dtype);
    await expect(loadGpt2FromDir(modelDir(weights))).resolves.toBeDefined();
  });
});
