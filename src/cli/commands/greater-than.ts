import { mkdir } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { loadWithProgress } from "../load-model.ts";
import { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import { readFileBytes, writeFileAtomic } from "../../io/node-files.ts";
import { makeGreaterThanDataset } from "../../tasks/greater-than/dataset.ts";
import { type GreaterThanPrompts, readGreaterThanDataset } from "../../tasks/greater-than/dataset-file.ts";
import { runGreaterThanPipeline } from "../../tasks/greater-than/pipeline.ts";
import { greaterThanFigures, greaterThanReportHtml } from "../../viz/greater-than-figures.ts";
import { optionalString, parseCommandArgs, parsePositiveInt, parseSeed, requireString } from "../args.ts";
import { BUNDLED_MODEL_DIR } from "../../gpt2/node-bundled-model.ts";
import type { Gpt2Config } from "../../gpt2/config.ts";
import { createProgressBar, type ProgressBar } from "../progress.ts";
import { UsageError } from "../usage-error.ts";
import { checkGreaterThanSize } from "./greater-than-size.ts";

export const GREATER_THAN_USAGE = `gpt2-lens greater-than [--model DIR] [--n 490] [--seed 0] [--dataset FILE] --out DIR

Reproduces Hanna, Liu & Variengien (2023): baselines, iterative path patching (senders → logits,
→ the last four MLPs, → the circuit heads' queries and keys/values), attention to YY, MLP logit
lens, top neurons, and the circuit's PD. Writes report.json, one SVG per figure and index.html.
--model defaults to the bundled greater-than model; --dataset takes a safetensors file with
tokens, corrupted_tokens and yy (e.g. the fixture's golden.safetensors) instead of --n/--seed.`;

async function loadPrompts(datasetPath: string | undefined, n: number, seed: number, config: Gpt2Config): Promise<GreaterThanPrompts> {
  if (datasetPath) {
    const prompts = readGreaterThanDataset(await readFileBytes(datasetPath), datasetPath);
    checkGreaterThanSize(prompts.tokens.batch, `--dataset ${basename(datasetPath)}`, config);
    return prompts;
  }
  checkGreaterThanSize(n, "--n", config);
  const dataset = makeGreaterThanDataset({ n, seed });
  return { tokens: dataset.tokens, corruptedTokens: dataset.corruptedTokens, yy: dataset.yy, prompts: dataset.prompts };
}

export async function greaterThanCommand(argv: readonly string[], log: (line: string) => void): Promise<void> {
  const { values, positionals } = parseCommandArgs("greater-than", argv, {
    model: { type: "string" },
    n: { type: "string" },
    seed: { type: "string" },
    dataset: { type: "string" },
    out: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`greater-than: unexpected argument "${positionals[0]}"`);
  const out = resolve(requireString("greater-than", values.out, "out"));
  const n = parsePositiveInt("greater-than", values.n, "n", 490);
  const seed = parseSeed("greater-than", values.seed, 0);
  const datasetPath = optionalString(values, "dataset");
  if (datasetPath && (values.n !== undefined || values.seed !== undefined)) {
    throw new UsageError("greater-than: --dataset replaces --n and --seed; give one or the other");
  }
  const modelDir = optionalString(values, "model") ?? BUNDLED_MODEL_DIR;
  const started = performance.now();
  const model = new HookedGpt2(await loadWithProgress(modelDir));
  const data = await loadPrompts(datasetPath, n, seed, model.config);
  log(`model ${modelDir}: ${model.config.nLayers} layers × ${model.config.nHeads} heads, d_model ${model.config.dModel}; ${data.tokens.batch} prompts`);

  const bars = new Map<string, ProgressBar>();
  let report;
  try {
    report = runGreaterThanPipeline({
      model,
      data,
      onProgress: (stage, done, total) => {
        let bar = bars.get(stage);
        if (!bar) {
          bar = createProgressBar({ label: stage, total, stream: process.stderr, unit: "items" });
          bars.set(stage, bar);
        }
        bar.update(done);
        if (done >= total) bar.finish();
      },
    });
  } catch (error) {
    for (const bar of bars.values()) bar.abort();
    throw error;
  }

  await mkdir(out, { recursive: true });
  const figures = greaterThanFigures(report);
  for (const figure of figures) await writeFileAtomic(join(out, figure.fileName), new TextEncoder().encode(figure.svg));
  await writeFileAtomic(join(out, "report.json"), new TextEncoder().encode(`${JSON.stringify(report, null, 1)}\n`));
  const html = greaterThanReportHtml(report, figures, basename(modelDir));
  await writeFileAtomic(join(out, "index.html"), new TextEncoder().encode(html));
  const { baseline, circuit } = report;
  log(`PD ${baseline.prob_diff.toFixed(4)}  CS ${baseline.cutoff_sharpness.toFixed(4)}  corrupted PD ${baseline.corrupted_prob_diff.toFixed(4)}`);
  log(`circuit: heads ${circuit.heads.join(" ") || "—"}; MLPs ${circuit.mlps.join(" ") || "—"}; PD ${circuit.prob_diff.toFixed(4)} (${(100 * circuit.fraction_of_baseline).toFixed(1)} % of the model's)`);
  log(`wrote report.json, ${figures.length} figures and index.html to ${out} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
