import { basename } from "node:path";
import { Gpt2LensError } from "../../errors.ts";
import type { Gpt2Config } from "../../gpt2/config.ts";
import { BUNDLED_MODEL_DIR } from "../../gpt2/node-bundled-model.ts";
import { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import { readFileBytes } from "../../io/node-files.ts";
import { replaceDirectory } from "../../io/node-replace-directory.ts";
import { makeGreaterThanDataset } from "../../tasks/greater-than/dataset.ts";
import { runGreaterThanPipeline } from "../../tasks/greater-than/pipeline.ts";
import { type CircuitMember, greaterThanCircuitMembers, parseCircuitSpec } from "../../tasks/related/circuit-spec.ts";
import { RELATED_FAMILIES, type RelatedFamily } from "../../tasks/related/families.ts";
import { parseRelatedFamilies } from "../../tasks/related/family-check.ts";
import { makeFamilyPrompts } from "../../tasks/related/prompts.ts";
import { runRelatedTasks } from "../../tasks/related/run-related.ts";
import { relatedFigures, relatedReportHtml } from "../../viz/related-figures.ts";
import { optionalString, parseCommandArgs, parsePositiveInt, parseSeed, requireString } from "../args.ts";
import { loadWithProgress } from "../load-model.ts";
import { checkOutReplaceableDirectory } from "../output-checks.ts";
import { stageProgress } from "../stage-progress.ts";
import { UsageError } from "../usage-error.ts";
import { checkGreaterThanSize } from "./greater-than-size.ts";
import { checkRelatedTasksSize } from "./related-tasks-size.ts";

export const RELATED_TASKS_USAGE = `gpt2-lens related-tasks [--model DIR] [--n 97] [--seed 0] [--circuit SPEC] [--families FILE] --out DIR

Which related prompts does the greater-than circuit carry (Hanna, Liu & Variengien 2023, section 5)?
For each prompt family (0–9, plus those of --families): the model's PD and CS with the family's mask,
the corrupted prompts' PD, the circuit's PD, and path patching senders → logits. Writes report.json,
one probability heatmap and one path-patching grid per family, a summary chart and index.html.
--circuit lists heads and MLPs, at END unless marked @YY: "L0H0,L0H1,MLP0,MLP3,L0H3@YY".
Without it, the circuit is the one greater-than selects on its own template, on max(--n, 97)
prompts (at least one per YY, 02…98; --seed).
--families adds families from a JSON array of { id, name, template, corrupted, mask, centuries, yy?, fillers? }.`;

const COMMAND = "related-tasks";
const isReportFile = (name: string): boolean => name === "report.json" || name === "index.html" || name.endsWith(".svg");

function asUsage<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof Gpt2LensError && !(error instanceof UsageError)) throw new UsageError(`${COMMAND}: ${what}: ${error.message}`);
    throw error;
  }
}

async function extraFamilies(path: string | undefined): Promise<RelatedFamily[]> {
  if (path === undefined) return [];
  const text = new TextDecoder().decode(await readFileBytes(path));
  const families = asUsage(`--families ${path}`, () => parseRelatedFamilies(text, path));
  const taken = new Set(RELATED_FAMILIES.map((f) => f.id));
  for (const family of families) {
    if (taken.has(family.id)) throw new UsageError(`${COMMAND}: --families ${path}: family id "${family.id}" is already used`);
    taken.add(family.id);
  }
  return families;
}

/** Fewer prompts than one per YY leave the selection's sweeps unbalanced (and, on the bundled model, select nothing). */
const SELECTION_MIN_PROMPTS = 97;

/** The greater-than circuit of the model, selected on `n` prompts of the greater-than template. */
function selectGreaterThanCircuit(model: HookedGpt2, n: number, seed: number, progress: (s: string, d: number, t: number) => void): CircuitMember[] {
  checkGreaterThanSize(n, "--n", model.config);
  const data = makeGreaterThanDataset({ n, seed });
  const report = runGreaterThanPipeline({
    model,
    data: { tokens: data.tokens, corruptedTokens: data.corruptedTokens, yy: data.yy, prompts: data.prompts },
    onProgress: (stage, done, total) => progress(`greater-than circuit: ${stage}`, done, total),
    randomCircuits: null,
    cellStatistics: false,
  });
  // A model that does not compute greater-than gets no circuit (report.task_check says why).
  return report.circuit ? greaterThanCircuitMembers(report.circuit, model.config) : [];
}

function parseCircuit(spec: string, config: Gpt2Config): CircuitMember[] {
  return asUsage("--circuit", () => parseCircuitSpec(spec, config));
}

export async function relatedTasksCommand(argv: readonly string[], log: (line: string) => void): Promise<void> {
  const { values, positionals } = parseCommandArgs(COMMAND, argv, {
    model: { type: "string" },
    n: { type: "string" },
    seed: { type: "string" },
    circuit: { type: "string" },
    families: { type: "string" },
    out: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`${COMMAND}: unexpected argument "${positionals[0]}"`);
  const outFlag = requireString(COMMAND, values.out, "out");
  const n = parsePositiveInt(COMMAND, values.n, "n", 97);
  const seed = parseSeed(COMMAND, values.seed, 0);
  const circuitSpec = optionalString(values, "circuit");
  if (values.circuit !== undefined && (circuitSpec === undefined || circuitSpec.trim() === "")) {
    throw new UsageError(`${COMMAND}: --circuit needs a list of heads and MLPs, e.g. "L0H0,MLP0,L0H3@YY"`);
  }
  const modelDir = optionalString(values, "model") ?? BUNDLED_MODEL_DIR;
  const families = [...RELATED_FAMILIES, ...(await extraFamilies(optionalString(values, "families")))];
  const { path: out, viaLink } = await checkOutReplaceableDirectory(COMMAND, "out", outFlag, isReportFile, "related-tasks report");
  if (viaLink) log(`--out ${viaLink} is a symbolic link: the report replaces its target, ${out}`);
  const started = performance.now();
  const model = new HookedGpt2(await loadWithProgress(modelDir));
  const circuitGiven = circuitSpec === undefined ? null : parseCircuit(circuitSpec, model.config);
  // Every YY once is enough to see each family's longest prompt.
  const sample = families.flatMap((family) => makeFamilyPrompts(family, { n: Math.min(n, 97), seed }).prompts);
  checkRelatedTasksSize(n, Math.max(1, ...sample.map((p) => p.tokens.length)), model.config);
  log(`model ${modelDir}: ${model.config.nLayers} layers × ${model.config.nHeads} heads; ${families.length} families, ${n} prompts each`);

  const progress = stageProgress();
  let report;
  try {
    const selectionN = Math.max(n, SELECTION_MIN_PROMPTS);
    const circuit = circuitGiven ?? selectGreaterThanCircuit(model, selectionN, seed, progress.report);
    const circuitSource = circuitGiven ? "--circuit" : `greater-than selection on ${selectionN} prompts, seed ${seed}`;
    report = runRelatedTasks({ model, n, seed, circuit, circuitSource, families, onProgress: progress.report });
  } catch (error) {
    progress.abort();
    throw error;
  }

  const figures = relatedFigures(report);
  const encoder = new TextEncoder();
  await replaceDirectory(out, [
    ...figures.map((figure) => ({ name: figure.fileName, bytes: encoder.encode(figure.standaloneSvg) })),
    { name: "report.json", bytes: encoder.encode(`${JSON.stringify(report, null, 1)}\n`) },
    { name: "index.html", bytes: encoder.encode(relatedReportHtml(report, figures, basename(modelDir))) },
  ]);
  log(`circuit: ${report.circuit.members || "none selected (no circuit to evaluate)"} (${report.circuit.source})`);
  const f = (v: number | null | undefined) => (v === null || v === undefined ? "—" : v.toFixed(4));
  for (const family of report.families) {
    const excluded = family.prompts.requested - family.prompts.used;
    log(
      `family ${family.id} (${family.name}, ${family.mask}): ${family.prompts.used} prompts${excluded ? ` (${excluded} excluded)` : ""}; ` +
        `PD ${f(family.prob_diff)}  corrupted ${f(family.corrupted_prob_diff)}  circuit ${f(family.circuit?.prob_diff)}; ` +
        `does the task: ${family.does_task ? "yes" : "no"}, circuit: ${family.circuit_does_task === null ? "—" : family.circuit_does_task ? "yes" : "no"}`,
    );
  }
  log(`wrote report.json, ${figures.length} figures and index.html to ${out} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
