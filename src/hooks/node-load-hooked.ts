import { BUNDLED_MODEL_DIR } from "../gpt2/node-bundled-model.ts";
import { loadGpt2FromDir, type LoadGpt2FromDirOptions } from "../gpt2/node-load.ts";
import type { Backend } from "../backend/backend.ts";
import { HookedGpt2 } from "./hooked-gpt2.ts";

const OPTION_KEYS = ["processing", "onProgress"];

/** Options in the backend's place: an object with a loader option and without a backend's matmul. */
function isOptions(value: unknown): value is LoadGpt2FromDirOptions {
  return typeof value === "object" && value !== null && !("matmul" in value) && OPTION_KEYS.some((key) => key in value);
}

/**
 * Loads a HuggingFace GPT-2 directory (config.json + model.safetensors) with hook points. Without
 * a directory: the bundled 4-layer GPT-2 trained on the greater-than task. Backend and options
 * (onProgress, processing) as for loadGpt2FromDir; the options may also come second, e.g.
 * `loadHookedGpt2(dir, { processing: "transformer-lens" })`.
 */
export async function loadHookedGpt2(
  dir?: string,
  backend?: Backend | LoadGpt2FromDirOptions,
  options?: LoadGpt2FromDirOptions,
): Promise<HookedGpt2> {
  if (isOptions(backend) && options === undefined) return new HookedGpt2(await loadGpt2FromDir(dir ?? BUNDLED_MODEL_DIR, undefined, backend));
  return new HookedGpt2(await loadGpt2FromDir(dir ?? BUNDLED_MODEL_DIR, backend as Backend | undefined, options));
}
