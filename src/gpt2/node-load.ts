import { readFile, stat } from "node:fs/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { join } from "node:path";
import type { Backend } from "../backend/backend.ts";
import { assertBackend } from "../backend/check-backend.ts";
import { selectNodeBackendFromEnv } from "../backend/node-select.ts";
import { SafetensorsFileSource } from "../io/node-safetensors-source.ts";
import { SafetensorsError } from "../io/safetensors.ts";
import { ModelLoadError } from "./config.ts";
import { type LoadGpt2Options, loadGpt2FromTensors, parseConfigSource } from "./load.ts";
import { resolveWeightProcessing } from "./process-weights.ts";
import { progressReporter } from "./load-progress.ts";
import type { Gpt2Model } from "./model.ts";

function fileError(error: unknown, dir: string, file: string): unknown {
  const code = (error as { code?: string }).code;
  if (code === "ENOENT" || code === "ENOTDIR") {
    return new ModelLoadError("missing_file", `model directory "${dir}" has no ${file}`);
  }
  if (error instanceof SafetensorsError || error instanceof ModelLoadError) return error;
  return new ModelLoadError("read_failed", `cannot read ${join(dir, file)}: ${(error as Error).message}`);
}

async function readRequired(dir: string, file: string): Promise<Uint8Array> {
  try {
    return await readFile(join(dir, file));
  } catch (error) {
    throw fileError(error, dir, file);
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

/** Tensors at least this large are worth a garbage collection once dropped (see collectGarbage). */
const LARGE_TENSOR_BYTES = 64 << 20;

let gcFunction: (() => void) | null | undefined;

/**
 * Runs a full garbage collection where the engine allows it (Node: the same --expose-gc route
 * Jest's leak detector takes), else does nothing. The loader calls it once after a backend has
 * packed the largest matrix (W_E, 154 MB for GPT-2 small) and dropped its plain copy: V8 otherwise
 * tends to keep that dead buffer until long after all the other packed copies exist.
 */
function collectGarbage(): void {
  if (gcFunction === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      const gc: unknown = runInNewContext("gc");
      gcFunction = typeof gc === "function" ? (gc as () => void) : null;
    } catch {
      gcFunction = null;
    }
  }
  try {
    gcFunction?.();
  } catch {
    gcFunction = null;
  }
}

export interface LoadGpt2FromDirOptions extends LoadGpt2Options {
  /**
   * Called as model.safetensors is read (synchronously, between reads), with the bytes done and the
   * file's size; the last call reports (size, size). Loading stops at its first throw, and that
   * error is what loadGpt2FromDir rejects with, unchanged.
   */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

/**
 * Loads `config.json` + `model.safetensors` from a HuggingFace-style model directory. Without an
 * explicit backend, GPT2_LENS_BACKEND (auto | wasm | wasm-threads | reference) chooses the kernels
 * (see selectNodeBackend in backend/node-select.ts) and GPT2_LENS_FMA=0 keeps the GEMM off fused multiply-adds.
 *
 * The weight file is streamed: its header is read and validated first, then each tensor is read
 * into its own buffer as the model needs it, so the whole file is never in memory at once. With a
 * backend that packs its own copy (the WebAssembly ones), the large matrices are dropped once
 * packed and re-read from the file if something later asks for them (`model.weights.blocks[i].qkvWeight`
 * etc.): the file must then still be there, unchanged.
 *
 * `options.processing` applies TransformerLens's weight processing (see processWeights): processed
 * matrices are computed from the file's as they are read, so the streaming above still holds, at the
 * cost of reading the matrices that biases are folded from once more during the load.
 */
export async function loadGpt2FromDir(
  dir: string,
  backend?: Backend,
  options?: LoadGpt2FromDirOptions,
): Promise<Gpt2Model> {
  if (backend != null) assertBackend(backend, "loadGpt2FromDir: backend");
  const progress = progressReporter(options, "loadGpt2FromDir");
  const onProgress = progress.report;
  const processing = resolveWeightProcessing(options?.processing, "loadGpt2FromDir");
  const configText = new TextDecoder().decode(await readRequired(dir, "config.json"));
  const weightsPath = join(dir, "model.safetensors");
  try {
    await stat(weightsPath);
  } catch (error) {
    throw fileError(error, dir, "model.safetensors");
  }
  const chosen = backend ?? selectNodeBackendFromEnv();
  let loading = true;
  let source: SafetensorsFileSource | undefined;
  try {
    const config = parseConfigSource(configText);
    try {
      const packs = chosen.ownsPreparedCopy === true;
      let droppedLarge = false;
      source = SafetensorsFileSource.open(weightsPath, {
        onRead: onProgress && ((done, total) => loading && onProgress(Math.min(done, total), total)),
        // A large tensor read for packing is dead once the next read starts.
        beforeRead: (byteLength) => {
          if (droppedLarge && loading) collectGarbage();
          droppedLarge = packs && byteLength >= LARGE_TENSOR_BYTES;
        },
      });
    } catch (error) {
      throw fileError(error, dir, "model.safetensors");
    }
    const model = loadGpt2FromTensors(config, source, chosen, processing);
    loading = false;
    onProgress?.(source.size, source.size);
    return model;
  } catch (error) {
    if (progress.thrown) throw progress.thrown.error;
    throw withFileName(error, dir);
  } finally {
    loading = false;
    source?.close();
  }
}
