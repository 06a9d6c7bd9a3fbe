/**
 * loadGpt2FromDir streams model.safetensors (header first, then each tensor on demand) and, on a
 * backend that packs its own copy, keeps the large matrices only packed, re-reading them from the
 * file when asked for. It must give exactly what loadGpt2FromBytes gives on the same bytes.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Gpt2LensError } from "../../src/errors.ts";
import { loadGpt2FromBytes } from "../../src/gpt2/load.ts";
import type { Gpt2Model } from "../../src/gpt2/model.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { isWeightResident } from "../../src/gpt2/weights.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { SafetensorsFileSource } from "../../src/io/node-safetensors-source.ts";
import { parseSafetensors, parseSafetensorsHeader, safetensorsHeaderSize, SafetensorsError } from "../../src/io/safetensors.ts";
import { createWasmBackend } from "../../src/backend/wasm/wasm-backend.ts";
import { referenceBackend } from "../../src/backend/reference/reference-backend.ts";
import type { MatmulBackend } from "../../src/backend/backend.ts";
import { BUNDLED_MODEL_DIR, TINY_DIR } from "../helpers/fixtures.ts";

const root = mkdtempSync(join(tmpdir(), "gpt2-lens-stream-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let count = 0;
function modelDir(configPath: string, weightsPath: string): string {
  const dir = join(root, `model-${count++}`);
  mkdirSync(dir);
  copyFileSync(configPath, join(dir, "config.json"));
  copyFileSync(weightsPath, join(dir, "model.safetensors"));
  return dir;
}

const wasm = createWasmBackend();
const backends: [string, MatmulBackend][] = [["reference", referenceBackend]];
if (wasm) backends.push([wasm.name, wasm]);

const TINY_LAYOUTS = {
  "transformer. prefix": join(TINY_DIR, "model.safetensors"),
  "no prefix (legacy layout)": join(TINY_DIR, "legacy-layout.safetensors"),
};

/** Bitwise equality (fast on millions of floats, unlike toEqual). */
function expectSameBits(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  expect(bytes(actual).equals(bytes(expected))).toBe(true);
}

function logits(model: Gpt2Model): Float32Array {
  const ids = Array.from({ length: 2 }, (_, b) => Array.from({ length: 9 }, (_, i) => ((b * 9 + i) * 7919 + 13) % model.config.dVocab));
  return new HookedGpt2(model).run(ids).logits.data;
}

describe.each(Object.entries(TINY_LAYOUTS))("streamed tiny-gpt2, %s", (_, weightsPath) => {
  const dir = modelDir(join(TINY_DIR, "config.json"), weightsPath);
  const bytes = new Uint8Array(readFileSync(weightsPath));
  const config = readFileSync(join(TINY_DIR, "config.json"), "utf8");

  it.each(backends)("gives bit-identical logits to loadGpt2FromBytes on %s", async (_, backend) => {
    const streamed = await loadGpt2FromDir(dir, backend);
    const inMemory = loadGpt2FromBytes({ config, weights: bytes }, backend);
    expectSameBits(logits(streamed), logits(inMemory));
  });

  it.each(backends)("materializes the large matrices equal to the file's tensors on %s", async (name, backend) => {
    const model = await loadGpt2FromDir(dir, backend);
    const file = parseSafetensors(bytes);
    const prefix = file.has("transformer.wte.weight") ? "transformer." : "";
    const block = model.weights.blocks[1]!;
    const packs = name !== "reference";
    // A packing backend leaves them unloaded; the reference backend's prepared form is the plain array.
    expect(isWeightResident(block, "qkvWeight")).toBe(!packs);
    expect(isWeightResident(model.weights, "tokenEmbedding")).toBe(!packs);
    if (packs) {
      expect(model.prepared.blocks[1]!.qkv.rowMajor).toBeNull();
      expect(model.prepared.unembed.transposed).toBeNull();
    } else {
      expect(model.prepared.blocks[1]!.qkv.rowMajor).toBe(block.qkvWeight);
    }
    const before = logits(model);
    expectSameBits(block.qkvWeight, file.getFloat32(`${prefix}h.1.attn.c_attn.weight`));
    expectSameBits(block.outWeight, file.getFloat32(`${prefix}h.1.attn.c_proj.weight`));
    expectSameBits(block.mlpInWeight, file.getFloat32(`${prefix}h.1.mlp.c_fc.weight`));
    expectSameBits(block.mlpOutWeight, file.getFloat32(`${prefix}h.1.mlp.c_proj.weight`));
    expectSameBits(model.weights.tokenEmbedding, file.getFloat32(`${prefix}wte.weight`));
    expectSameBits(block.qkvBias, file.getFloat32(`${prefix}h.1.attn.c_attn.bias`));
    // Loaded once, then kept; tied embeddings stay one array.
    expect(isWeightResident(block, "qkvWeight")).toBe(true);
    expect(block.qkvWeight).toBe(block.qkvWeight);
    expect(model.weights.unembedTransposed).toBe(model.weights.tokenEmbedding);
    // The embedding gather reads the plain rows now, the packed ones before: same values.
    expectSameBits(logits(model), before);
  });
});

describe("streamed loading", () => {
  it("the float16 bundled model gives bit-identical logits to loadGpt2FromBytes", async () => {
    const config = readFileSync(join(BUNDLED_MODEL_DIR, "config.json"), "utf8");
    const bytes = new Uint8Array(readFileSync(join(BUNDLED_MODEL_DIR, "model.safetensors")));
    expect(parseSafetensors(bytes).info(parseSafetensors(bytes).names[0]!).dtype).toBe("F16");
    for (const [, backend] of backends) {
      const streamed = await loadGpt2FromDir(BUNDLED_MODEL_DIR, backend);
      const inMemory = loadGpt2FromBytes({ config, weights: bytes }, backend);
      expectSameBits(logits(streamed), logits(inMemory));
      const file = parseSafetensors(bytes);
      const key = file.names.find((n) => n.endsWith("h.0.mlp.c_fc.weight"))!;
      expectSameBits(streamed.weights.blocks[0]!.mlpInWeight, file.getFloat32(key));
    }
  });

  it("reports progress in bytes, non-decreasing, ending at the file size", async () => {
    const calls: [number, number][] = [];
    await loadGpt2FromDir(TINY_DIR, wasm ?? referenceBackend, { onProgress: (done, total) => calls.push([done, total]) });
    const size = readFileSync(join(TINY_DIR, "model.safetensors")).length;
    expect(calls.length).toBeGreaterThan(10);
    expect(calls.every(([, total]) => total === size)).toBe(true);
    for (let i = 1; i < calls.length; i++) expect(calls[i]![0]).toBeGreaterThanOrEqual(calls[i - 1]![0]);
    expect(calls.at(-1)).toEqual([size, size]);
  });

  it("a lazily materialized weight fails with a typed error if the file changed after loading", async () => {
    if (!wasm) return;
    const dir = modelDir(join(TINY_DIR, "config.json"), join(TINY_DIR, "model.safetensors"));
    const model = await loadGpt2FromDir(dir, wasm);
    const path = join(dir, "model.safetensors");
    utimesSync(path, new Date(), new Date(Date.now() + 60_000));
    expect(() => model.weights.blocks[0]!.qkvWeight).toThrow(expect.objectContaining({ code: "file_changed" }));
  });

  it("a weight file deleted during loading: the load completes from the open file, a later re-read is file_changed", async () => {
    if (!wasm) return;
    const dir = modelDir(join(TINY_DIR, "config.json"), join(TINY_DIR, "model.safetensors"));
    const path = join(dir, "model.safetensors");
    let calls = 0;
    const model = await loadGpt2FromDir(dir, wasm, { onProgress: () => void (++calls === 3 && rmSync(path)) });
    expect(calls).toBeGreaterThan(3);
    let error: unknown;
    try {
      void model.weights.blocks[0]!.qkvWeight;
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Gpt2LensError);
    expect(error).toMatchObject({ code: "file_changed", message: `${path} was deleted or moved after it was loaded; cannot read its tensors again` });
  });

  it("a weight file truncated during loading is file_changed, naming it", async () => {
    const dir = modelDir(join(TINY_DIR, "config.json"), join(TINY_DIR, "model.safetensors"));
    const path = join(dir, "model.safetensors");
    let calls = 0;
    const load = loadGpt2FromDir(dir, referenceBackend, { onProgress: () => void (++calls === 3 && truncateSync(path, 4096)) });
    await expect(load).rejects.toThrow(expect.objectContaining({ code: "file_changed", message: `${path} ended early: it shrank while being read` }));
  });
});

describe("parseSafetensorsHeader / SafetensorsFileSource", () => {
  const bytes = new Uint8Array(readFileSync(join(TINY_DIR, "model.safetensors")));

  it("reads the same header as parseSafetensors from the header bytes alone", () => {
    const size = safetensorsHeaderSize(bytes.subarray(0, 8), bytes.length);
    const header = parseSafetensorsHeader(bytes.subarray(0, size), bytes.length);
    const file = parseSafetensors(bytes);
    expect(header.dataStart).toBe(size);
    expect(header.tensors.map((t) => t.name)).toEqual(file.names);
    for (const t of header.tensors) expect(t).toEqual(file.info(t.name));
  });

  it("rejects a truncated file with parseSafetensors' error, before reading any tensor", () => {
    const size = safetensorsHeaderSize(bytes.subarray(0, 8), bytes.length);
    const cut = bytes.length - 4;
    let expected: unknown;
    try {
      parseSafetensors(bytes.subarray(0, cut));
    } catch (error) {
      expected = error;
    }
    expect(expected).toBeInstanceOf(SafetensorsError);
    expect(() => parseSafetensorsHeader(bytes.subarray(0, size), cut)).toThrow(
      expect.objectContaining({ code: (expected as SafetensorsError).code, message: (expected as SafetensorsError).message }),
    );
  });

  it("reads tensors on demand, each into its own buffer, equal to the in-memory reader", () => {
    const path = join(root, "source.safetensors");
    writeFileSync(path, bytes);
    const file = parseSafetensors(bytes);
    const source = SafetensorsFileSource.open(path);
    try {
      expect(source.names).toEqual(file.names);
      for (const name of file.names) {
        const values = source.getFloat32(name);
        expectSameBits(values, file.getFloat32(name));
        expect(values.byteOffset).toBe(0);
        expect(values.buffer.byteLength).toBe(values.byteLength);
        expectSameBits(source.getFloat32Transient(name), values);
      }
    } finally {
      source.close();
    }
    // After close, reads reopen the file.
    expectSameBits(source.getFloat32(file.names[0]!), file.getFloat32(file.names[0]!));
  });
});
