import { basename, join, resolve } from "node:path";
import { loadWithProgress } from "../load-model.ts";
import { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import { readFileBytes } from "../../io/node-files.ts";
import { fileSha256Hex } from "../../io/node-file-sha256.ts";
import { packageInfo } from "../../io/node-package-info.ts";
import { sha256Hex } from "../../io/sha256.ts";
import type { GreaterThanReportFile, GreaterThanRunRecord } from "../../tasks/greater-than/run-record.ts";
import { stageTimer } from "../stage-timings.ts";
import { replaceDirectory } from "../../io/node-replace-directory.ts";
import { makeGreaterThanDataset } from "../../tasks/greater-than/dataset.ts";
import { type GreaterThanPrompts, readGreaterThanDataset } from "../../tasks/greater-than/dataset-file.ts";
import { reportHasCircuit, runGreaterThanPipeline } from "../../tasks/greater-than/pipeline.ts";
import { parseControlFlags } from "./greater-than-controls.ts";
import { greaterThanReportHtml, greaterThanSections } from "../../viz/greater-than-figures.ts";
import { optionalString, parseCommandArgs, type ParsedArgs, parsePositiveInt, parseSeed, requireString } from "../args.ts";
import { BUNDLED_MODEL_DIR } from "../../gpt2/node-bundled-model.ts";
import type { Gpt2Config } from "../../gpt2/config.ts";
import { UsageError } from "../usage-error.ts";
import { checkOutReplaceableDirectory } from "../output-checks.ts";
import { stageProgress } from "../stage-progress.ts";
import { checkGreaterThanSize } from "./greater-than-size.ts";
import { type CircuitSpec, parseCircuitSpec } from "../../tasks/greater-than/circuit-spec.ts";
import { PatchingError } from "../../patching/patching-error.ts";
import type { EdgeCircuitOptions } from "../../tasks/greater-than/edge-circuit.ts";

export const GREATER_THAN_USAGE = `gpt2-lens greater-than [--model DIR] [--n 490] [--seed 0] [--dataset FILE] [--processing MODE] [--neuron-mlp L] [--circuit SPEC] [--slice 41] [--baseline-n N] [--baseline-batch 256] [--random-circuits 20] [--random-mlps MODE] [--bootstrap 1000] [--control-seed 0] [--min-pd 0.05] [--method M] [--steps 5] [--edges K] --out DIR

Reproduces Hanna, Liu & Variengien (2023): baselines, iterative path patching (senders → logits,
→ the last four MLPs, → the circuit heads' queries and keys/values), attention to YY, MLP logit
lens, top neurons, and the circuit's PD. Writes report.json, one SVG per figure and index.html.
--model defaults to the bundled greater-than model; --dataset takes a safetensors file with
tokens, corrupted_tokens and yy (e.g. the fixture's golden.safetensors) instead of --n/--seed.
--processing (MODE none or transformer-lens): transformer-lens loads the weights as TransformerLens's from_pretrained processes them
(fold_ln, center_writing_weights, center_unembed, fold_value_biases); the default, none, keeps
HuggingFace's values. report.json says which (model.weights).
--neuron-mlp L analyses MLP L's neurons instead of the most important MLP's.
--circuit evaluates and analyses the given heads and MLPs at END instead of the circuit found, e.g.
L5H1,L5H5,L6H1,L6H9,L7H10,L8H8,L8H11,L9H1,MLP8,MLP9,MLP10,MLP11 (the paper's, for GPT-2 small).
Controls: --slice YY (2…98) draws p(year | YY); --baseline-n N also computes PD, CS and the heatmap on
N unbalanced prompts in batches of --baseline-batch (no path patching); --random-circuits K (0 skips)
evaluates K random head sets of the circuit's size with its MLPs (--random-mlps random: random MLPs too);
--bootstrap R resamples the prompts R times for 95 % intervals; --control-seed seeds those three.
No circuit is selected unless the lower end of PD's bootstrap interval exceeds --min-pd (0…1).
--method (M path-patching, eap or eap-ig; default path-patching) eap / eap-ig discover the circuit
from edge attribution scores instead: the top --edges K edges (default 200) by |score|, pruned to
those on a path from the embedding to the logits, evaluated exactly edge by edge (faithfulness curve,
scores beside the path-patching grids); --steps (default 5) sets EAP-IG's interpolation steps.`;

/** The start years YY 02…98 of a balanced dataset. */
const YY_VALUES = 97;

/** What a report directory holds; an existing --out holding anything else is refused (it is replaced whole). */
const isReportFile = (name: string): boolean => name === "report.json" || name === "index.html" || name.endsWith(".svg");

/** For the interruption test only: GPT2_LENS_TEST_PAUSE_AFTER_FILE_MS pauses after each report file. */
function testPauseAfterFile(): (() => Promise<void>) | undefined {
  const ms = Number(process.env.GPT2_LENS_TEST_PAUSE_AFTER_FILE_MS);
  return ms > 0 ? () => new Promise((done) => setTimeout(done, ms)) : undefined;
}

async function loadPrompts(
  datasetPath: string | undefined, n: number, seed: number, config: Gpt2Config,
): Promise<{ prompts: GreaterThanPrompts; dataset: GreaterThanRunRecord["dataset"] }> {
  if (datasetPath) {
    const bytes = await readFileBytes(datasetPath);
    const prompts = readGreaterThanDataset(bytes, datasetPath);
    checkGreaterThanSize(prompts.tokens.batch, `--dataset ${basename(datasetPath)}`, config);
    return { prompts, dataset: { source: "file", path: resolve(datasetPath), sha256: sha256Hex(bytes) } };
  }
  checkGreaterThanSize(n, "--n", config);
  const dataset = makeGreaterThanDataset({ n, seed });
  return {
    prompts: { tokens: dataset.tokens, corruptedTokens: dataset.corruptedTokens, yy: dataset.yy, prompts: dataset.prompts },
    dataset: { source: "generated", path: null, sha256: null },
  };
}

/** --circuit checked against the loaded model; a bad label is a usage error naming it. */
function circuitOption(text: string, config: Gpt2Config): CircuitSpec {
  try {
    return parseCircuitSpec(text, config);
  } catch (error) {
    if (error instanceof PatchingError) throw new UsageError(`greater-than: --circuit: ${error.message}`);
    throw error;
  }
}

export async function greaterThanCommand(argv: readonly string[], log: (line: string) => void): Promise<void> {
  const { values, positionals } = parseCommandArgs("greater-than", argv, {
    model: { type: "string" },
    n: { type: "string" },
    seed: { type: "string" },
    dataset: { type: "string" },
    out: { type: "string" },
    processing: { type: "string" },
    "neuron-mlp": { type: "string" },
    circuit: { type: "string" },
    slice: { type: "string" },
    "baseline-n": { type: "string" },
    "baseline-batch": { type: "string" },
    "random-circuits": { type: "string" },
    "random-mlps": { type: "string" },
    bootstrap: { type: "string" },
    "control-seed": { type: "string" },
    "min-pd": { type: "string" },
    method: { type: "string" },
    steps: { type: "string" },
    edges: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`greater-than: unexpected argument "${positionals[0]}"`);
  const outFlag = requireString("greater-than", values.out, "out");
  const n = parsePositiveInt("greater-than", values.n, "n", 490);
  const seed = parseSeed("greater-than", values.seed, 0);
  const datasetPath = optionalString(values, "dataset");
  if (datasetPath && (values.n !== undefined || values.seed !== undefined)) {
    throw new UsageError("greater-than: --dataset replaces --n and --seed; give one or the other");
  }
  const neuronMlp = parseNeuronMlp(optionalString(values, "neuron-mlp"));
  const circuitText = values.circuit;
  if (circuitText !== undefined && (typeof circuitText !== "string" || circuitText.trim() === "")) {
    throw new UsageError("greater-than: --circuit needs a comma-separated list of heads and MLPs, e.g. L5H1,L6H9,MLP8");
  }
  const controls = parseControlFlags(values);
  const edgeAttribution = edgeAttributionOption(values);
  if (edgeAttribution && circuitText !== undefined) throw new UsageError("greater-than: --circuit and --method eap/eap-ig both choose the circuit; give one");
  const modelDir = optionalString(values, "model") ?? BUNDLED_MODEL_DIR;
  const processing = optionalString(values, "processing") ?? "none";
  if (processing !== "none" && processing !== "transformer-lens") {
    throw new UsageError(`greater-than: --processing must be "none" or "transformer-lens", got "${processing}"`);
  }
  const { path: out, viaLink } = await checkOutReplaceableDirectory("greater-than", "out", outFlag, isReportFile, "greater-than report");
  if (viaLink) log(`--out ${viaLink} is a symbolic link: the report replaces its target, ${out}`);
  const started = performance.now();
  const model = new HookedGpt2(await loadWithProgress(modelDir, processing));
  const loadSeconds = (performance.now() - started) / 1000;
  const givenCircuit = circuitText === undefined ? undefined : circuitOption(circuitText, model.config);
  const { prompts: data, dataset: datasetRecord } = await loadPrompts(datasetPath, n, seed, model.config);
  if (controls.largeBaseline) {
    const { n: baselineN, batchSize } = controls.largeBaseline;
    checkGreaterThanSize(Math.min(baselineN, batchSize ?? baselineN), "--baseline-batch", model.config);
  }
  if (neuronMlp !== undefined && neuronMlp >= model.config.nLayers) {
    throw new UsageError(`greater-than: --neuron-mlp ${neuronMlp} is not an MLP of this model (layers 0…${model.config.nLayers - 1})`);
  }
  log(`model ${modelDir}: ${model.config.nLayers} layers × ${model.config.nHeads} heads, d_model ${model.config.dModel}; ${data.tokens.batch} prompts`);
  const yyCovered = new Set(data.yy).size;
  if (yyCovered < YY_VALUES) {
    log(`warning: the ${data.tokens.batch} prompts cover ${yyCovered} of the ${YY_VALUES} start years YY 02…98; the probability heatmap and the balance over YY need --n ≥ ${YY_VALUES}`);
  }

  const progress = stageProgress();
  const timer = stageTimer();
  let pipelineReport;
  try {
    pipelineReport = runGreaterThanPipeline({
      model,
      data,
      neuronMlp,
      ...(givenCircuit ? { circuit: givenCircuit } : {}),
      ...controls,
      ...(edgeAttribution ? { edgeAttribution } : {}),
      onProgress: (stage, done, total) => {
        timer.mark(stage);
        progress.report(stage, done, total);
      },
    });
  } catch (error) {
    progress.abort();
    throw error;
  }

  const weightsFile = join(modelDir, "model.safetensors");
  const run: GreaterThanRunRecord = {
    prompts: data.tokens.batch,
    n: datasetPath ? null : n,
    seed: datasetPath ? null : seed,
    dataset: datasetRecord,
    model: {
      directory: resolve(modelDir),
      weights_file: basename(weightsFile),
      weights_sha256: await fileSha256Hex(weightsFile),
      processing,
      circuit_option: circuitText ?? null,
    },
    package: await packageInfo(),
    timings: { load_seconds: round3(loadSeconds), stages: timer.timings(), total_seconds: round3((performance.now() - started) / 1000) },
  };
  const report: GreaterThanReportFile = { run, ...pipelineReport };
  const sections = greaterThanSections(report);
  const figures = sections.flatMap((section) => section.figures ?? []);
  const encoder = new TextEncoder();
  await replaceDirectory(
    out,
    [
      ...figures.map((figure) => ({ name: figure.fileName, bytes: encoder.encode(figure.standaloneSvg) })),
      { name: "report.json", bytes: encoder.encode(`${JSON.stringify(report, null, 1)}\n`) },
      { name: "index.html", bytes: encoder.encode(greaterThanReportHtml(report, sections, basename(modelDir))) },
    ],
    { afterFile: testPauseAfterFile() },
  );
  const { baseline, statistics } = report;
  const interval = (ci: readonly [number, number]) => `[${ci[0].toFixed(4)}, ${ci[1].toFixed(4)}]`;
  log(`PD ${baseline.prob_diff.toFixed(4)}  CS ${baseline.cutoff_sharpness.toFixed(4)}  corrupted PD ${baseline.corrupted_prob_diff.toFixed(4)}`);
  log(`95 % intervals over ${statistics.baseline.prob_diff.n} prompts: PD ${interval(statistics.baseline.prob_diff.ci)}  CS ${interval(statistics.baseline.cutoff_sharpness.ci)}  corrupted PD ${interval(statistics.baseline.corrupted_prob_diff.ci)}`);
  if (report.large_baseline) {
    const large = report.large_baseline;
    log(`baseline on ${large.n} unbalanced prompts: PD ${large.prob_diff.mean.toFixed(4)} ${interval(large.prob_diff.ci)}  CS ${large.cutoff_sharpness.mean.toFixed(4)}  corrupted PD ${large.corrupted_prob_diff.mean.toFixed(4)}`);
  }
  if (!reportHasCircuit(report)) {
    log(`no circuit: ${report.task_check.reason}`);
  } else {
    const { circuit } = report;
    log(`circuit: heads ${circuit.heads.join(" ") || "—"}; MLPs ${circuit.mlps.join(" ") || "—"}; PD ${circuit.prob_diff.toFixed(4)} (${(100 * circuit.fraction_of_baseline).toFixed(1)} % of the model's)`);
    const { paper, paper_reverse: reverse } = report.circuit_evaluation;
    log(`circuit (${circuit.source}), paper's evaluation: PD ${paper.prob_diff.toFixed(4)} (${(100 * paper.fraction_of_baseline).toFixed(1)} %), CS ${paper.cutoff_sharpness.toFixed(4)}; reversed: PD ${reverse.prob_diff.toFixed(4)}`);
    const control = report.random_circuit_control;
    if (control) log(`random-circuit control: ${(100 * control.fraction_reaching).toFixed(0)} % of ${control.k} random head sets reach the circuit's PD ${control.circuit_prob_diff.toFixed(4)}`);
  }
  if (report.edge_attribution) {
    const e = report.edge_attribution;
    log(`${e.method} circuit: ${e.edges.length} edges (top ${e.edges_asked} of ${e.total_edges}), exact PD ${e.prob_diff.toFixed(4)} (${(100 * e.fraction_of_baseline).toFixed(1)} % of the model's)`);
  }
  log(`wrote report.json, ${figures.length} figures and index.html to ${out} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** --method, --steps, --edges: the edge-attribution options, or undefined for path patching (the default). */
function edgeAttributionOption(values: ParsedArgs["values"]): EdgeCircuitOptions | undefined {
  const method = optionalString(values, "method") ?? "path-patching";
  if (method !== "path-patching" && method !== "eap" && method !== "eap-ig") {
    throw new UsageError(`greater-than: --method must be "path-patching", "eap" or "eap-ig", got "${method}"`);
  }
  if (method === "path-patching") {
    for (const flag of ["steps", "edges"]) if (values[flag] !== undefined) throw new UsageError(`greater-than: --${flag} needs --method eap or eap-ig`);
    return undefined;
  }
  if (method === "eap" && values.steps !== undefined) throw new UsageError("greater-than: --steps is EAP-IG's; give --method eap-ig");
  const steps = parsePositiveInt("greater-than", values.steps, "steps", 5);
  const edges = parsePositiveInt("greater-than", values.edges, "edges", 200);
  return { method, ...(method === "eap-ig" ? { steps } : {}), edges };
}

const round3 = (seconds: number) => Math.round(seconds * 1000) / 1000;

function parseNeuronMlp(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`greater-than: --neuron-mlp must be a layer number (0, 1, …), got "${value}"`);
  }
  return Number(value);
}
