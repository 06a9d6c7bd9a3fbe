import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseSafetensors, type SafetensorsFile } from "../../src/io/safetensors.ts";

export const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));
export const TINY_DIR = `${FIXTURES}tiny-gpt2`;
/** The default model shipped in the package: 6 layers, trained on synthetic text (scripts/train-demo-model). */
export const BUNDLED_MODEL_DIR = fileURLToPath(new URL("../../models/greater-than-gpt2", import.meta.url));
/** The former bundled model (4 layers, greater-than template only, circuit in layer 0), kept for its HuggingFace goldens. */
export const LAYER0_MODEL_DIR = `${FIXTURES}greater-than-gpt2-layer0`;
/** The 490-prompt evaluation set with the layer-0 model's HuggingFace goldens; also the prompts of the bundled model's golden. */
export const GREATER_THAN_GOLDEN = `${FIXTURES}greater-than-gpt2-layer0/golden.safetensors`;

const cache = new Map<string, SafetensorsFile>();

export function readFixture(relativePath: string): SafetensorsFile {
  let file = cache.get(relativePath);
  if (!file) {
    file = parseSafetensors(new Uint8Array(readFileSync(`${FIXTURES}${relativePath}`)));
    cache.set(relativePath, file);
  }
  return file;
}

export const tinyGolden = (): SafetensorsFile => readFixture("tiny-gpt2/golden.safetensors");
/** HuggingFace goldens of the layer-0 model (LAYER0_MODEL_DIR) on the 490 prompts. */
export const greaterThanGolden = (): SafetensorsFile => readFixture("greater-than-gpt2-layer0/golden.safetensors");
/** END year logits of the bundled model on the same 490 prompts, from an independent PyTorch forward (make_goldens.py). */
export const bundledModelGolden = (): SafetensorsFile => readFixture("bundled-model/torch-golden.safetensors");
