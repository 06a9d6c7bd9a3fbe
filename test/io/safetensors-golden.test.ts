import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  parseSafetensors,
  serializeSafetensors,
  type SafetensorsFile,
  type TensorToWrite,
} from "../../src/io/safetensors.ts";

const load = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../../${path}`, import.meta.url)));

/** Every tensor re-expressed through the public getters, so float16 widening and narrowing is exercised too. */
function rewrite(file: SafetensorsFile): Uint8Array {
  const tensors = new Map<string, TensorToWrite>();
  for (const name of file.names) {
    const { dtype, shape } = file.info(name);
    const data =
      dtype === "F32" || dtype === "F16" || dtype === "BF16" ? file.getFloat32(name)
      : dtype === "I32" ? file.getInt32(name)
      : dtype === "I64" ? new BigInt64Array(new Uint8Array(file.getRaw(name)).buffer)
      : file.getRaw(name);
    tensors.set(name, { dtype, shape, data });
  }
  const metadata = Object.keys(file.metadata).length > 0 ? { ...file.metadata } : undefined;
  return serializeSafetensors(tensors, metadata);
}

describe("Python-written files are reproduced byte for byte", () => {
  it.each([
    "test/fixtures/greater-than-gpt2-layer0/golden.safetensors",
    "test/fixtures/tiny-gpt2/model.safetensors",
    "test/fixtures/tiny-gpt2/legacy-layout.safetensors",
    "test/fixtures/greater-than-gpt2-layer0/model.safetensors",
  ])("%s", (path) => {
    const original = load(path);
    const file = parseSafetensors(original);
    expect(file.names.length).toBeGreaterThan(0);
    const rewritten = rewrite(file);
    expect(rewritten.length).toBe(original.length);
    expect(Buffer.compare(rewritten, original)).toBe(0);
  });

  it("greater-than golden keeps its metadata (in file order) and dtypes", () => {
    const file = parseSafetensors(load("test/fixtures/greater-than-gpt2-layer0/golden.safetensors"));
    expect(Object.keys(file.metadata)).toEqual([
      "corrupted_prob_diff_mean",
      "train_steps",
      "cutoff_sharpness_mean",
      "prompts",
      "prob_diff_mean",
    ]);
    expect(file.info("year_logits")).toMatchObject({ dtype: "F32", shape: [490, 100] });
    expect(file.info("tokens")).toMatchObject({ dtype: "I32", shape: [490, 13] });
    expect(file.getInt32("year_tokens").length).toBe(100);
  });
});

/**
 * tiny-gpt2/golden.safetensors cannot be reproduced byte for byte: its F32 tensors are not in the Rust
 * crate's (dtype, name) order. Five pairs are swapped, each `X.out` placed before `X.hook_scale`
 * (consistent with tensors renamed after the layout was fixed, e.g. from `X.hook_normalized`). Since
 * `serializeSafetensors` mirrors what `safetensors.torch.save_file` does, it lays those pairs out by name.
 * Everything else is checked exactly: metadata (with key order), every tensor's dtype, shape and bytes,
 * and that the two layouts differ by exactly those swaps.
 */
describe("tiny-gpt2 golden (not in the Rust crate's own tensor order)", () => {
  const original = load("test/fixtures/tiny-gpt2/golden.safetensors");
  const golden = parseSafetensors(original);
  const rewritten = rewrite(golden);
  const ours = parseSafetensors(rewritten);

  it("has the same size, metadata, tensors and bytes", () => {
    expect(rewritten.length).toBe(original.length);
    expect(Object.entries(ours.metadata)).toEqual(Object.entries(golden.metadata));
    expect([...ours.names].sort()).toEqual([...golden.names].sort());
    for (const name of golden.names) {
      const { byteOffset: _a, ...a } = golden.info(name);
      const { byteOffset: _b, ...b } = ours.info(name);
      expect(b).toEqual(a);
      expect(Buffer.compare(ours.getRaw(name), golden.getRaw(name))).toBe(0);
    }
  });

  it("differs from the fixture's layout only by the out/hook_scale swaps", () => {
    const swapped = [...golden.names];
    const swaps: string[] = [];
    for (let i = 0; i + 1 < swapped.length; i++) {
      if (swapped[i].endsWith(".out") && swapped[i + 1] === swapped[i].replace(/\.out$/, ".hook_scale")) {
        swaps.push(swapped[i]);
        [swapped[i], swapped[i + 1]] = [swapped[i + 1], swapped[i]];
      }
    }
    expect(swaps).toEqual(["blocks.0.ln1.out", "blocks.0.ln2.out", "blocks.1.ln1.out", "blocks.1.ln2.out", "ln_final.out"]);
    expect(ours.names).toEqual(swapped);
  });
});
