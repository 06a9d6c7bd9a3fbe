import type { Gpt2Model } from "../gpt2/model.ts";
import type { WeightProcessing } from "../gpt2/process-weights.ts";
import { loadGpt2FromDir } from "../gpt2/node-load.ts";
import { createProgressBar, type ProgressBar } from "./progress.ts";

/**
 * loadGpt2FromDir with a "loading weights" bar (bytes of model.safetensors) when stderr is a
 * terminal; elsewhere (logs, pipes, tests) loading stays silent.
 */
export async function loadWithProgress(modelDir: string, processing: WeightProcessing = "none"): Promise<Gpt2Model> {
  if (!process.stderr.isTTY) return loadGpt2FromDir(modelDir, undefined, { processing });
  let bar: ProgressBar | undefined;
  let model: Gpt2Model;
  try {
    model = await loadGpt2FromDir(modelDir, undefined, {
      processing,
      onProgress: (done, total) => {
        bar ??= createProgressBar({ label: "loading weights", total, stream: process.stderr, unit: "bytes" });
        bar.update(done);
      },
    });
  } catch (error) {
    bar?.abort();
    throw error;
  }
  bar?.finish();
  return model;
}
