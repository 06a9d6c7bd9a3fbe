import { BUNDLED_MODEL_DIR } from "../gpt2/node-bundled-model.ts";
import { loadGpt2FromDir, type LoadGpt2FromDirOptions } from "../gpt2/node-load.ts";
import type { MatmulBackend } from "../tensor/matmul.ts";
import { HookedGpt2 } from "./hooked-gpt2.ts";

/**
 * Loads a HuggingFace GPT-2 directory (config.json + model.safetensors) with hook points. Without
 * a directory: the bundled 4-layer GPT-2 trained on the greater-than task. Backend and options
 * (onProgress) as for loadGpt2FromDir.
 */
export async function loadHookedGpt2(
  dir: string = BUNDLED_MODEL_DIR,
  backend?: MatmulBackend,
  options?: LoadGpt2FromDirOptions,
): Promise<HookedGpt2> {
  return new HookedGpt2(await loadGpt2FromDir(dir, backend, options));
}
