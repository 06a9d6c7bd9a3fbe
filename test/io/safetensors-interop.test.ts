import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseSafetensors, serializeSafetensors } from "../../src/io/safetensors.ts";

/**
 * The npm `safetensors` package (0.0.1) is a 2 KB browser helper: a `SafeTensor` reader class (plus
 * IndexedDB/fetch caching) and no writer, so only "it reads what we write" can be cross-checked. Its
 * reader also treats `__metadata__` as a tensor (and crashes on it) and ignores the input's byteOffset.
 */
interface NpmSafeTensor {
  metadata: Map<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  getTensor(name: string): Uint8Array;
}
type NpmSafeTensorClass = new (bytes: Uint8Array) => NpmSafeTensor;

async function loadNpmReader(): Promise<NpmSafeTensorClass> {
  const specifier: string = "safetensors";
  const mod = await import(specifier);
  return (mod.SafeTensor ?? mod.default?.SafeTensor) as NpmSafeTensorClass;
}

describe("npm safetensors 0.0.1", () => {
  it("reads a file written by serializeSafetensors", async () => {
    const SafeTensor = await loadNpmReader();
    const bytes = serializeSafetensors({
      weight: { dtype: "F32", shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-3, 7]) },
      ids: { dtype: "I32", shape: [4], data: new Int32Array([5, -6, 7, 2 ** 31 - 1]) },
      half: { dtype: "F16", shape: [2], data: new Float32Array([1, 0.5]) },
      mask: { dtype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) },
    });
    const theirs = new SafeTensor(bytes);
    const ours = parseSafetensors(bytes);
    expect([...theirs.metadata.keys()]).toEqual(ours.names);
    for (const name of ours.names) {
      const info = ours.info(name);
      expect(theirs.metadata.get(name)).toMatchObject({ dtype: info.dtype, shape: info.shape });
      expect(theirs.getTensor(name)).toEqual(ours.getRaw(name));
    }
    expect(new Float32Array(new Uint8Array(theirs.getTensor("weight")).buffer)).toEqual(ours.getFloat32("weight"));
  });

  it("cannot read files that carry __metadata__ (all the Python fixtures do), which ours reads", async () => {
    const SafeTensor = await loadNpmReader();
    const bytes = new Uint8Array(readFileSync(new URL("../fixtures/greater-than-gpt2-layer0/golden.safetensors", import.meta.url)));
    expect(() => new SafeTensor(bytes)).toThrow(TypeError);
    expect(parseSafetensors(bytes).names).toHaveLength(8);
  });
});
