import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { InputError } from "../errors.ts";
import { type BackendChoice, parseBackendChoice, selectBackend } from "../tensor/backends.ts";
import type { MatmulBackend } from "../tensor/matmul.ts";
import { createParallelWasmBackend } from "../tensor/wasm/node-parallel-backend.ts";
import { SafetensorsError } from "../io/safetensors.ts";
import { ModelLoadError } from "./config.ts";
import { loadGpt2FromBytes } from "./load.ts";
import type { Gpt2Model } from "./model.ts";

async function readRequired(dir: string, file: string): Promise<Uint8Array> {
  try {
    return await readFile(join(dir, file));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new ModelLoadError("missing_file", `model directory "${dir}" has no ${file}`);
    }
    throw new ModelLoadError("read_failed", `cannot read ${join(dir, file)}: ${(error as Error).message}`);
  }
}

/** Names the model directory in load errors, which otherwise only know the tensor or key. */
function withFileName(error: unknown, dir: string): unknown {
  if (error instanceof SafetensorsError) {
    return new SafetensorsError(error.code, `${join(dir, "model.safetensors")}: ${error.message}`, error.tensor);
  }
  if (error instanceof ModelLoadError) return new ModelLoadError(error.code, `${dir}: ${error.message}`);
  return error;
}

let sharedParallel: MatmulBackend | null | undefined;

function cores(): number {
  try {
    return availableParallelism();
  } catch {
    return 1;
  }
}

/**
 * Like selectBackend, for Node and Deno, where worker threads exist: "auto" uses WebAssembly SIMD
 * on a worker pool sized to the cores (one process-wide pool; its workers are unref()ed, so they
 * never keep the process alive) when there are ≥ 2 cores, else single-threaded SIMD, else the
 * reference; "wasm-threads" insists on the pool, "wasm" is single-threaded SIMD, "reference" plain
 * TypeScript.
 */
export function selectNodeBackend(choice: BackendChoice = "auto"): MatmulBackend {
  if (choice === "wasm-threads" || (choice === "auto" && cores() >= 2)) {
    if (sharedParallel === undefined) sharedParallel = createParallelWasmBackend();
    if (sharedParallel) return sharedParallel;
    if (choice === "wasm-threads") {
      throw new InputError("WebAssembly SIMD with shared memory is not available in this JavaScript engine", "no_wasm_threads");
    }
  }
  return selectBackend(choice);
}

/**
 * Loads `config.json` + `model.safetensors` from a HuggingFace-style model directory. Without an
 * explicit backend, GPT2_LENS_BACKEND (auto | wasm | wasm-threads | reference) chooses the kernels
 * (see {@link selectNodeBackend}).
 */
export async function loadGpt2FromDir(dir: string, backend?: MatmulBackend): Promise<Gpt2Model> {
  const config = new TextDecoder().decode(await readRequired(dir, "config.json"));
  const weights = await readRequired(dir, "model.safetensors");
  const chosen = backend ?? selectNodeBackend(parseBackendChoice(process.env.GPT2_LENS_BACKEND));
  try {
    return loadGpt2FromBytes({ config, weights }, chosen);
  } catch (error) {
    throw withFileName(error, dir);
  }
}
