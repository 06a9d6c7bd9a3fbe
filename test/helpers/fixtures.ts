import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseSafetensors, type SafetensorsFile } from "../../src/io/safetensors.ts";

export const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));
export const TINY_DIR = `${FIXTURES}tiny-gpt2`;
export const BUNDLED_MODEL_DIR = fileURLToPath(new URL("../../models/greater-than-gpt2", import.meta.url));

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
export const greaterThanGolden = (): SafetensorsFile => readFixture("greater-than-golden.safetensors");
