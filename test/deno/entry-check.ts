/**
 * Loads the tiny model, runs the golden tokens and prints
 * `{"entry", "logitsShape", "maxRelativeError"}` as one JSON line (logits vs the HF golden).
 *
 *   deno run -A test/deno/entry-check.ts              # the library through src/*.ts
 *   deno run -A test/deno/entry-check.ts --package    # through the package entry "gpt2-lens" (dist/index.js)
 *
 * Only Node built-ins that Deno provides are used, so it runs under either runtime.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MODEL_DIR = `${ROOT}test/fixtures/tiny-gpt2`;
const usePackage = process.argv.includes("--package");

interface Library {
  HookedGpt2: new (model: unknown) => {
    run(tokens: { ids: Int32Array; batch: number; pos: number }): { logits: { shape: readonly number[]; data: Float32Array } };
  };
  loadGpt2FromBytes: (sources: { config: string; weights: Uint8Array }) => unknown;
}

async function importLibrary(): Promise<Library> {
  if (!usePackage) {
    const [{ HookedGpt2 }, { loadGpt2FromBytes }] = await Promise.all([
      import("../../src/hooks/hooked-gpt2.ts"),
      import("../../src/gpt2/load.ts"),
    ]);
    return { HookedGpt2, loadGpt2FromBytes } as unknown as Library;
  }
  const specifier = "gpt2-lens"; // a variable: the type checker must not need dist/index.d.ts
  const lib = (await import(specifier)) as Record<string, unknown>;
  const missing = ["HookedGpt2", "loadGpt2FromBytes"].filter((name) => typeof lib[name] !== "function");
  if (missing.length) {
    throw new Error(`"gpt2-lens" does not export ${missing.join(", ")} (it exports ${Object.keys(lib).join(", ")})`);
  }
  return lib as unknown as Library;
}

const { HookedGpt2, loadGpt2FromBytes } = await importLibrary();
// The golden file is read with the source parser either way: it is test data, not the code under test.
const { parseSafetensors } = await import("../../src/io/safetensors.ts");

const model = new HookedGpt2(
  loadGpt2FromBytes({
    config: readFileSync(`${MODEL_DIR}/config.json`, "utf8"),
    weights: new Uint8Array(readFileSync(`${MODEL_DIR}/model.safetensors`)),
  }),
);
const golden = parseSafetensors(new Uint8Array(readFileSync(`${MODEL_DIR}/golden.safetensors`)));
const [batch, pos] = golden.info("tokens").shape as [number, number];
const { logits } = model.run({ ids: golden.getInt32("tokens"), batch, pos });

const expected = golden.getFloat32("logits");
let maxDiff = 0;
let maxAbs = 0;
if (logits.data.length !== expected.length) maxDiff = Infinity;
else {
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
    const diff = Math.abs(logits.data[i]! - expected[i]!);
    maxDiff = Number.isNaN(diff) ? Infinity : Math.max(maxDiff, diff);
  }
}
console.log(
  JSON.stringify({
    entry: usePackage ? "gpt2-lens" : "src",
    runtime: "Deno" in globalThis ? "deno" : "node",
    logitsShape: logits.shape,
    maxRelativeError: maxDiff === Infinity ? "Infinity" : maxDiff / maxAbs,
  }),
);
