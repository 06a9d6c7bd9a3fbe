/**
 * The layering of src/ (docs ARCHITECTURE: each layer imports only the ones below it), read from
 * every source file's imports: a file may import its own layer and lower ones, and nothing outside
 * src/backend/ may import the WebAssembly backend (src/backend/wasm/): above the backend folder only
 * the Backend interface is seen.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

/** Rank of each top-level folder (and root file) of src/: imports may only go to an equal or lower rank. */
const RANKS: Readonly<Record<string, number>> = {
  "errors.ts": 0,
  "dispose-symbols.ts": 0,
  "nearest-names.ts": 0,
  io: 1,
  tensor: 2,
  backend: 3,
  gpt2: 4,
  hooks: 5,
  patching: 6,
  tasks: 7,
  viz: 7,
  cli: 8,
  testing: 9,
  "index.ts": 9,
};

/** Source files as paths relative to src/ (posix separators) → their text. */
type SourceTree = ReadonlyMap<string, string>;

function readTree(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) files.set(relative(dir, path).split("\\").join("/"), readFileSync(path, "utf8"));
    }
  };
  walk(dir);
  return files;
}

/** The relative imports of a file (static, re-exports, side-effect and dynamic), resolved to paths relative to src/. */
function importsOf(file: string, text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => posix.normalize(posix.join(posix.dirname(file), spec)));
}

function layerOf(path: string): string {
  return path.split("/")[0]!;
}

/** Every import that breaks the layering, as "from → to: why". */
function layeringViolations(tree: SourceTree): string[] {
  const violations: string[] = [];
  for (const [file, text] of tree) {
    const from = layerOf(file);
    const fromRank = RANKS[from];
    if (fromRank === undefined) {
      violations.push(`${file}: src/${from} has no layer (add it to RANKS)`);
      continue;
    }
    for (const target of importsOf(file, text)) {
      if (target.startsWith("../")) {
        violations.push(`${file} → ${target}: outside src/`);
        continue;
      }
      const to = layerOf(target);
      const toRank = RANKS[to];
      if (toRank === undefined) violations.push(`${file} → ${target}: src/${to} has no layer`);
      else if (toRank > fromRank) violations.push(`${file} → ${target}: ${from} is below ${to}`);
      if (target.startsWith("backend/wasm/") && from !== "backend") {
        violations.push(`${file} → ${target}: only src/backend/ may import the WebAssembly backend`);
      }
    }
  }
  return violations;
}

describe("layering of src/", () => {
  it("every import goes to the same or a lower layer, and only src/backend/ imports src/backend/wasm/", () => {
    const tree = readTree(SRC);
    expect(tree.size).toBeGreaterThan(100);
    expect(tree.has("backend/backend.ts") && tree.has("backend/wasm/gemm/wasm-gemm.ts")).toBe(true);
    expect(layeringViolations(tree)).toEqual([]);
  });

  it("reports an upward import, a wasm import from above the backend, a dynamic import and an unknown folder", () => {
    const tree = new Map([
      ["tensor/tensor.ts", 'import type { Backend } from "../backend/backend.ts";'],
      ["gpt2/model.ts", 'import type { PackedMatrix } from "../backend/wasm/gemm/packing.ts";\nimport { selectBackend } from "../backend/select.ts";'],
      ["backend/select.ts", 'export { createWasmBackend } from "./wasm/wasm-backend.ts";\nconst hooks = await import("../hooks/hooked-gpt2.ts");'],
      ["index.ts", 'export * from "./backend/wasm/wasm-backend.ts";'],
      ["extras/thing.ts", "export const x = 1;"],
      ["hooks/hooked-gpt2.ts", 'import "../gpt2/model.ts";'],
    ]);
    expect(layeringViolations(tree)).toEqual([
      "tensor/tensor.ts → backend/backend.ts: tensor is below backend",
      "gpt2/model.ts → backend/wasm/gemm/packing.ts: only src/backend/ may import the WebAssembly backend",
      "backend/select.ts → hooks/hooked-gpt2.ts: backend is below hooks",
      "index.ts → backend/wasm/wasm-backend.ts: only src/backend/ may import the WebAssembly backend",
      "extras/thing.ts: src/extras has no layer (add it to RANKS)",
    ]);
  });
});
