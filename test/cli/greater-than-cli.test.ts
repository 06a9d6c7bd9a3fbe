/**
 * `gpt2-lens greater-than` as shipped: the compiled dist/cli/main.js run by Node in a child process.
 * dist is rebuilt (tsc -p tsconfig.json) in beforeAll when any src file is newer than it.
 *
 * The acceptance run (490 golden prompts on the bundled model) takes a minute or more on a busy
 * machine, so it runs once in beforeAll and every assertion reads its output directory. Its numbers
 * are held against the bundled model's PyTorch golden (scripts/train-demo-model/make_goldens.py).
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, CLI, ROOT, runCli, runCliSync } from "../helpers/cli.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { serializeSafetensors, type TensorToWrite } from "../../src/io/safetensors.ts";
import { DatasetError, readGreaterThanDataset } from "../../src/tasks/greater-than/dataset-file.ts";
import { runGreaterThanPipeline, type GreaterThanReport } from "../../src/tasks/greater-than/pipeline.ts";
import { withCircuit } from "../helpers/greater-than-report.ts";
import { escapeXml } from "../../src/viz/escape-xml.ts";
import { formatCompactNumber, formatTooltipValue } from "../../src/viz/number-format.ts";
import { formatSummary } from "../../src/viz/controls-figures.ts";
import { greaterThanFigures, INLINE_FIGURE_LIMIT } from "../../src/viz/greater-than-figures.ts";
import type { GreaterThanReportFile } from "../../src/tasks/greater-than/run-record.ts";
import { BUNDLED_MODEL_DIR, bundledModelGolden, GREATER_THAN_GOLDEN, greaterThanGolden, TINY_DIR } from "../helpers/fixtures.ts";
import { reportSchemaErrors } from "../helpers/report-schema.ts";

const GOLDEN_DATASET = GREATER_THAN_GOLDEN;
const ACCEPTANCE_TIMEOUT_MS = 400_000;
const TOLERANCE = 1e-3;

// ---- running the CLI (asynchronously, so several runs can overlap) ----

function cli(args: readonly string[], timeoutMs = 60_000): Promise<CliRun> {
  return runCli(args, {}, timeoutMs);
}

function expectSuccess(run: CliRun): void {
  expect(run.signal, `killed after ${run.seconds.toFixed(0)} s; stderr:\n${run.stderr.slice(-2000)}`).toBeNull();
  expect(run.status, run.stderr.slice(-2000)).toBe(0);
}

function readReport(dir: string): GreaterThanReportFile {
  return JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as GreaterThanReportFile;
}

/** report.json without its timings, the one part that differs from run to run. */
function withoutTimings(dir: string): unknown {
  const report = readReport(dir) as unknown as { run: Record<string, unknown> };
  delete report.run.timings;
  return report;
}

const sha256File = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

function filesEndingWith(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((name) => name.endsWith(suffix));
}

let work: string;
let dirs = 0;
function freshDir(): string {
  const dir = join(work, `case-${dirs++}`);
  mkdirSync(dir);
  return dir;
}

let goldenOut: string;
let goldenRun: CliRun;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "gpt2-lens-greater-than-cli-"));
  goldenOut = join(work, "golden-report");
  goldenRun = await cli(["greater-than", "--dataset", GOLDEN_DATASET, "--out", goldenOut], ACCEPTANCE_TIMEOUT_MS - 20_000);
}, ACCEPTANCE_TIMEOUT_MS);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("gpt2-lens greater-than on the golden dataset (acceptance)", () => {
  const golden = bundledModelGolden();
  const goldenPd = Number(golden.metadata.prob_diff_mean);
  const goldenCs = Number(golden.metadata.cutoff_sharpness_mean);
  const goldenCorruptedPd = Number(golden.metadata.corrupted_prob_diff_mean);

  it("exits 0 and prints the baselines and the circuit", () => {
    expectSuccess(goldenRun);
    expect(goldenRun.stdout).toMatch(/490 prompts/);
    const [, pd, cs, corrupted] = /^PD (-?\d\.\d{4}) {2}CS (-?\d\.\d{4}) {2}corrupted PD (-?\d\.\d{4})$/m.exec(goldenRun.stdout) ?? [];
    expect([Number(pd) - goldenPd, Number(cs) - goldenCs, Number(corrupted) - goldenCorruptedPd].every((d) => Math.abs(d) <= TOLERANCE), goldenRun.stdout).toBe(true);
    expect(goldenRun.stdout).toMatch(/^circuit: heads .*; MLPs .*; PD \d\.\d{4} \(\d+\.\d % of the model's\)$/m);
    expect(goldenRun.stderr).not.toMatch(/error/i);
  });

  it("reproduces PD 0.8713, CS 0.0337 and corrupted PD −0.3625 of the PyTorch golden", () => {
    expectSuccess(goldenRun);
    expect(goldenPd).toBeCloseTo(0.871253, 6);
    expect(goldenCs).toBeCloseTo(0.033708, 6);
    expect(goldenCorruptedPd).toBeCloseTo(-0.362532, 6);
    const { baseline } = readReport(goldenOut);
    expect(Math.abs(baseline.prob_diff - goldenPd), `PD ${baseline.prob_diff}`).toBeLessThanOrEqual(TOLERANCE);
    expect(Math.abs(baseline.cutoff_sharpness - goldenCs), `CS ${baseline.cutoff_sharpness}`).toBeLessThanOrEqual(TOLERANCE);
    expect(Math.abs(baseline.corrupted_prob_diff - goldenCorruptedPd), `corrupted PD ${baseline.corrupted_prob_diff}`).toBeLessThanOrEqual(TOLERANCE);
  });

  it("report.json has the contract fields", () => {
    expectSuccess(goldenRun);
    const report = withCircuit(readReport(goldenOut));
    const { n_layers: nLayers, n_heads: nHeads } = report.model;
    expect(report.model).toEqual({ n_layers: 6, n_heads: 4, d_model: 128, d_mlp: 512, weights: "huggingface" });

    // dataset: exactly what the file holds
    const file = readGreaterThanDataset(new Uint8Array(readFileSync(GOLDEN_DATASET)), "golden");
    const golden = greaterThanGolden();
    expect(report.dataset.prompts).toEqual(JSON.parse(golden.metadata.prompts!));
    expect(report.dataset.tokens).toHaveLength(490);
    expect(report.dataset.corrupted_tokens).toHaveLength(490);
    expect(report.dataset.tokens.flat()).toEqual(Array.from(file.tokens.ids));
    expect(report.dataset.corrupted_tokens.flat()).toEqual(Array.from(file.corruptedTokens.ids));
    expect(report.dataset.tokens.every((row) => row.length === 13)).toBe(true);
    expect(report.dataset.yy).toEqual(Array.from(file.yy));

    for (const key of ["prob_diff", "cutoff_sharpness", "corrupted_prob_diff"] as const) {
      expect(Number.isFinite(report.baseline[key]), key).toBe(true);
    }

    // path patching: logits, then the last four MLPs in descending order, each via the later circuit MLPs
    const lastMlps = Array.from({ length: Math.min(4, nLayers) }, (_, i) => nLayers - 1 - i);
    expect(report.path_patching.map((p) => p.receiver)).toEqual(["logits", ...lastMlps.map((l) => `blocks.${l}.mlp`)]);
    expect(report.path_patching[0]!.continuation).toEqual([]);
    const layerOf = (name: string) => Number(/^blocks\.(\d+)\.mlp$/.exec(name)![1]);
    lastMlps.forEach((layer, i) => {
      const expected = report.circuit.mlps.filter((name) => layerOf(name) > layer).sort((a, b) => layerOf(b) - layerOf(a));
      expect(report.path_patching[i + 1]!.continuation).toEqual(expected);
    });
    for (const { receiver, grid } of report.path_patching) {
      expect(grid, receiver).toHaveLength(nLayers);
      for (const row of grid) {
        expect(row, receiver).toHaveLength(nHeads + 1);
        for (const cell of row) expect(cell === null || Number.isFinite(cell), `${receiver}: ${cell}`).toBe(true);
      }
      expect(grid.flat().some((cell) => cell !== null), receiver).toBe(true);
    }
    // Senders at END that are not upstream of MLP L (MLP L itself and anything later) have no value.
    for (const [i, layer] of lastMlps.entries()) {
      const grid = report.path_patching[i + 1]!.grid;
      expect(grid[layer]![nHeads], `MLP ${layer} → itself`).toBeNull();
      for (let later = layer + 1; later < nLayers; later++) expect(grid[later]!.every((cell) => cell === null)).toBe(true);
    }
    // Into the logits, every component is a sender.
    expect(report.path_patching[0]!.grid.flat().every((cell) => typeof cell === "number")).toBe(true);

    const { circuit } = report;
    expect(circuit.heads.length).toBeGreaterThan(0);
    for (const head of circuit.heads) expect(head).toMatch(/^L\d+H\d+$/);
    for (const mlp of circuit.mlps) expect(mlp).toMatch(/^blocks\.\d+\.mlp$/);
    expect(Number.isFinite(circuit.prob_diff)).toBe(true);
    expect(circuit.fraction_of_baseline).toBeCloseTo(circuit.prob_diff / report.baseline.prob_diff, 10);
    expect(circuit.fraction_of_baseline).toBeGreaterThan(0.5);

    // Issue 17: the circuit spans layers, so its heads have upstream senders on both channels.
    expect(circuit.heads.filter((h) => Number(/^L(\d+)H/.exec(h)![1]) >= 1).length).toBeGreaterThanOrEqual(2);

    // The circuit heads' inputs: queries at END, keys/values at YY, where the start year enters.
    expect(report.head_input_patching.map((h) => [h.channel, h.sender_position])).toEqual([["q", 12], ["kv", 8]]);
    const [q, kv] = report.head_input_patching as [typeof report.head_input_patching[0], typeof report.head_input_patching[0]];
    expect(kv.receivers).toEqual(circuit.heads.map((h) => `${h}.kv`));
    // Well above float32 noise; the q grid's largest cell is small (≈ 0.5 % of PD, README).
    for (const grid of [q, kv]) expect(grid.grid.flat().some((cell) => typeof cell === "number" && Math.abs(cell) > 1e-3), grid.channel).toBe(true);
    const kvCells = kv.grid.flat().filter((cell): cell is number => typeof cell === "number");
    expect(Math.min(kv.embed!, ...kvCells)).toBeLessThan(-0.1);
  });

  it("writes index.html, report.json and one SVG per figure, the page showing every figure and caption", () => {
    expectSuccess(goldenRun);
    const names = readdirSync(goldenOut);
    expect(names).toContain("index.html");
    expect(names).toContain("report.json");
    const svgs = names.filter((name) => name.endsWith(".svg"));
    expect(svgs.length).toBeGreaterThanOrEqual(8);
    for (const svg of svgs) expect(readFileSync(join(goldenOut, svg), "utf8").startsWith("<svg"), svg).toBe(true);

    const report = readReport(goldenOut);
    const figures = greaterThanFigures(report);
    expect(new Set(svgs)).toEqual(new Set(figures.map((figure) => figure.fileName)));
    const html = readFileSync(join(goldenOut, "index.html"), "utf8");
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    for (const figure of figures) {
      const file = readFileSync(join(goldenOut, figure.fileName), "utf8");
      expect(file, figure.fileName).toBe(figure.standaloneSvg);
      expect(html, figure.name).toContain(`id="${figure.name}"`);
      expect(html, `caption of ${figure.name}`).toContain(escapeXml(figure.caption));
      // The file carries its caption: in <desc> and as visible text (a note's SVG is its sentence).
      if (!figure.note) expect(file, figure.fileName).toContain(`<desc>${escapeXml(figure.caption)}</desc>`);
      const words = figure.caption.split(/\s+/).slice(0, 4).join(" ");
      expect(file, `${figure.fileName} shows its caption`).toContain(escapeXml(words));
    }
    expect(names.filter((name) => !name.endsWith(".svg")).sort()).toEqual(["index.html", "report.json"]);
  });

  it("keeps index.html small: large figures come from their files, not inlined a second time", () => {
    expectSuccess(goldenRun);
    const html = readFileSync(join(goldenOut, "index.html"), "utf8");
    expect(html.length, `index.html is ${(html.length / 1e6).toFixed(2)} MB`).toBeLessThan(1_000_000);
    const figures = greaterThanFigures(readReport(goldenOut));
    const large = figures.filter((figure) => figure.svg.length > INLINE_FIGURE_LIMIT);
    expect(large.map((f) => f.name)).toContain("probability-heatmap");
    for (const figure of large) {
      expect(html.includes(figure.svg), `${figure.name} is not inlined`).toBe(false);
      expect(html, figure.name).toContain(`<img src="${figure.fileName}"`);
    }
    for (const figure of figures.filter((f) => f.svg.length <= INLINE_FIGURE_LIMIT && !f.note)) expect(html, figure.name).toContain(figure.svg);
    // Tooltips give four significant digits, not seventeen.
    const longest = Math.max(...[...html.matchAll(/<title>[^<]*?: (-?[\d.]+(?:e[-+]\d+)?)<\/title>/g)].map((m) => m[1]!.replace(/^-?0?\.?0*|\.|e.*$/g, "").length));
    expect(longest).toBeLessThanOrEqual(4);
  });

  it("draws every sweep on one shared scale, the probability heatmap clipped, and the circuit diagram from the sweeps' values", () => {
    expectSuccess(goldenRun);
    const report = withCircuit(readReport(goldenOut));
    const { lower_circuit: lower } = report;
    const grids = [...report.path_patching, ...report.head_input_patching, ...[lower.k, lower.v, ...lower.mlps_at_yy].filter((g) => g !== null)];
    // Cells are numbers, null (not upstream) or "not computed" (lower-circuit senders below kv_threshold).
    const magnitude = Math.max(...grids.flatMap((g) => g!.grid.flat()).filter((v): v is number => typeof v === "number").map(Math.abs));
    expect(magnitude).toBeGreaterThan(0.1);
    const figures = greaterThanFigures(report);
    const sweeps = figures.filter((f) => /^(path-patching|head-inputs|lower-circuit)-/.test(f.name) && !f.note && !f.name.endsWith("embedding"));
    expect(sweeps.length).toBeGreaterThanOrEqual(5);
    for (const figure of sweeps) {
      expect(figure.svg, figure.name).toContain(`colour range: ${formatCompactNumber(-magnitude)} to ${formatCompactNumber(magnitude)}`);
      expect(figure.caption, figure.name).toContain(`±${formatCompactNumber(magnitude)}, shared by every path-patching figure`);
    }
    // Grids with no upstream sender (circuit heads in layer 0, as in the layer-0 fixture model) are sentences.
    for (const entry of report.head_input_patching.filter((h) => h.grid.flat().every((v) => v === null))) {
      const figure = figures.find((f) => f.name === `head-inputs-${entry.channel}`)!;
      expect(figure.note).toBe(true);
      expect(figure.caption).toMatch(/^No sender to the circuit heads'/);
    }
    const cells = report.probability_heatmap.mean_probability.flat().sort((a, b) => a - b);
    const p99 = cells[Math.floor(0.99 * cells.length)]!;
    expect(p99).toBeLessThan(0.5 * cells.at(-1)!);
    const heat = figures.find((f) => f.name === "probability-heatmap")!;
    expect(heat.svg).toContain(`colour range: 0 to ${formatCompactNumber(p99)}`);
    expect(heat.svg).toContain(`&gt; ${formatCompactNumber(p99)} (clipped)`);
    expect(heat.caption).toContain(`clipped at the 99th percentile of the cells, ${formatCompactNumber(p99)}`);
    const diagram = figures.find((f) => f.name === "circuit-diagram")!;
    const logits = report.path_patching[0]!.grid;
    const members = [...report.circuit.heads.map((h) => { const [, l, c] = /^L(\d+)H(\d+)$/.exec(h)!; return [h, Number(l), Number(c)] as const; }),
      ...report.circuit.mlps.map((m) => { const l = Number(/^blocks\.(\d+)\.mlp$/.exec(m)![1]); return [`MLP${l}`, l, report.model.n_heads] as const; })];
    let drawn = 0;
    for (const [label, layer, column] of members) {
      const value = logits[layer]![column]!;
      const tooltip = `${label} → logits (direct): Δ PD ${formatTooltipValue(value)}`;
      const shown = Math.abs(value) >= 0.01 * Math.abs(report.baseline.prob_diff);
      expect(diagram.svg.includes(escapeXml(tooltip)), tooltip).toBe(shown);
      if (shown) drawn++;
    }
    expect(drawn).toBeGreaterThan(0);
    // Senders at YY into the heads' keys and values: the embedding, and the grid's cells at layer 0's MLP (MLP0).
    const kv = report.head_input_patching.find((h) => h.channel === "kv")!;
    const threshold = 0.01 * Math.abs(report.baseline.prob_diff);
    const embedTooltip = escapeXml(`embed → the circuit heads' keys and values (all heads together): Δ PD ${formatTooltipValue(kv.embed!)}`);
    expect(diagram.svg.includes(embedTooltip), embedTooltip).toBe(Math.abs(kv.embed!) >= threshold);
    const mlp0 = kv.grid[0]![report.model.n_heads]!;
    const mlp0Tooltip = escapeXml(`MLP0 → the circuit heads' keys and values (all heads together): Δ PD ${formatTooltipValue(mlp0)}`);
    expect(diagram.svg.includes(mlp0Tooltip), mlp0Tooltip).toBe(Math.abs(mlp0) >= threshold);
  });

  it("report.json records how it was made and conforms to the shipped schema", () => {
    expectSuccess(goldenRun);
    const report = readReport(goldenOut);
    expect(reportSchemaErrors(report)).toEqual([]);
    const { run } = report;
    expect(run.prompts).toBe(490);
    expect([run.n, run.seed]).toEqual([null, null]);
    expect(run.dataset).toEqual({ source: "file", path: GOLDEN_DATASET, sha256: sha256File(GOLDEN_DATASET) });
    expect(run.model.directory).toBe(BUNDLED_MODEL_DIR);
    expect(run.model.weights_file).toBe("model.safetensors");
    expect(run.model.weights_sha256).toBe(sha256File(join(BUNDLED_MODEL_DIR, "model.safetensors")));
    expect(run.model.processing).toBe("none");
    expect(run.model.circuit_option).toBeNull();
    const manifest = JSON.parse(readFileSync(join(fileURLToPath(new URL("../../", import.meta.url)), "package.json"), "utf8")) as { name: string; version: string };
    expect(run.package).toEqual({ name: manifest.name, version: manifest.version });
    const stages = run.timings.stages.map((s) => s.stage);
    expect(stages[0]).toBe("clean and corrupted runs");
    expect(stages).toContain("path patching: senders → logits");
    expect(stages).toContain("component analyses");
    const summed = run.timings.load_seconds + run.timings.stages.reduce((sum, s) => sum + s.seconds, 0);
    expect(summed).toBeLessThanOrEqual(run.timings.total_seconds + 1e-3);
    expect(run.timings.total_seconds).toBeLessThan(goldenRun.seconds);
  });

  it("the schema refuses a report with a field missing, mistyped, out of its set or unknown", () => {
    expectSuccess(goldenRun);
    const mutated = (change: (report: Record<string, any>) => void): unknown => {
      const report = readReport(goldenOut) as unknown as Record<string, any>;
      change(report);
      return report;
    };
    const cases: [string, (report: Record<string, any>) => void, RegExp][] = [
      ["no run.model.weights_sha256", (r) => delete r.run.model.weights_sha256, /\/run\/model must have required property/],
      ["no baseline", (r) => delete r.baseline, /must have required property/],
      ["PD as a string", (r) => (r.baseline.prob_diff = "0.97"), /\/baseline\/prob_diff must be number/],
      ["seed as a fraction", (r) => (r.run.seed = 0.5), /\/run\/seed must be integer/],
      ["a short hash", (r) => (r.run.model.weights_sha256 = "abc"), /\/run\/model\/weights_sha256 must match pattern/],
      ["an unknown source", (r) => (r.circuit.source = "guessed"), /\/circuit\/source must be equal to one of the allowed values/],
      ["a grid cell as text", (r) => (r.path_patching[0].grid[0][0] = "x"), /\/path_patching\/0\/grid\/0\/0 must be number,null/],
      ["a heatmap row of 99 years", (r) => r.probability_heatmap.mean_probability[0].pop(), /\/probability_heatmap\/mean_probability\/0 must NOT have fewer than 100 items/],
      ["an unknown field", (r) => (r.baseline.extra = 1), /\/baseline must NOT have additional properties/],
      ["no task check", (r) => delete r.task_check, /must have required property 'task_check'/],
      ["a fractional prompt count", (r) => (r.statistics.baseline.prob_diff.n = 2.5), /\/statistics\/baseline\/prob_diff\/n must be integer/],
      ["an interval of three ends", (r) => r.statistics.baseline.prob_diff.ci.push(1), /\/statistics\/baseline\/prob_diff\/ci must NOT have more than 2 items/],
      ["an unknown MLP choice", (r) => (r.random_circuit_control.mlps = "some"), /\/random_circuit_control\/mlps must be equal to one of the allowed values/],
      ["a slice of 99 years", (r) => r.probability_slice.model.pop(), /\/probability_slice\/model must NOT have fewer than 100 items/],
    ];
    for (const [what, change, message] of cases) {
      const errors = reportSchemaErrors(mutated(change));
      expect(errors.length, what).toBeGreaterThan(0);
      expect(errors.join("\n"), what).toMatch(message);
    }
  });

  it("leaves no *.tmp files behind", () => {
    expectSuccess(goldenRun);
    expect(filesEndingWith(goldenOut, ".tmp")).toEqual([]);
    expect(readdirSync(work).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });
});

describe("gpt2-lens greater-than --n --seed", () => {
  it("is deterministic: the same seed gives the same report (but for its timings) and byte-identical SVGs, another seed another dataset", async () => {
    const [a, b, c] = [freshDir(), freshDir(), freshDir()];
    const runs = await Promise.all([
      cli(["greater-than", "--n", "30", "--seed", "3", "--out", a], ACCEPTANCE_TIMEOUT_MS),
      cli(["greater-than", "--n", "30", "--seed", "3", "--out", b], ACCEPTANCE_TIMEOUT_MS),
      cli(["greater-than", "--n", "30", "--seed", "4", "--out", c], ACCEPTANCE_TIMEOUT_MS),
    ]);
    runs.forEach(expectSuccess);
    expect(withoutTimings(b)).toEqual(withoutTimings(a));
    for (const svg of readdirSync(a).filter((name) => name.endsWith(".svg"))) {
      expect(readFileSync(join(b, svg)).equals(readFileSync(join(a, svg))), svg).toBe(true);
    }

    const seed3 = readReport(a);
    const seed4 = readReport(c);
    expect(seed3.dataset.prompts).toHaveLength(30);
    expect(seed3.dataset.tokens).toHaveLength(30);
    expect(seed3.dataset.yy).toEqual(Array.from({ length: 30 }, (_, i) => 2 + i));
    expect(seed4.dataset.yy).toEqual(seed3.dataset.yy); // YY cycles regardless of the seed …
    expect(seed4.dataset.prompts).not.toEqual(seed3.dataset.prompts); // … nouns and centuries do not
    expect(seed4.dataset.tokens).not.toEqual(seed3.dataset.tokens);
    expect(withoutTimings(c)).not.toEqual(withoutTimings(a));
    for (const report of [seed3, seed4]) expect(reportSchemaErrors(report)).toEqual([]);
    expect([seed3.run.n, seed3.run.seed, seed4.run.seed, seed3.run.dataset.source]).toEqual([30, 3, 4, "generated"]);
  }, ACCEPTANCE_TIMEOUT_MS + 10_000);
});

describe("gpt2-lens greater-than on a model that does not compute greater-than (random-weight tiny fixture)", () => {
  it("selects no circuit, says so in the summary and in each skipped section, and report.json conforms to the schema", async () => {
    const out = freshDir();
    const run = await cli(["greater-than", "--model", TINY_DIR, "--n", "97", "--baseline-n", "200", "--baseline-batch", "100", "--out", out], ACCEPTANCE_TIMEOUT_MS);
    expectSuccess(run);
    expect(run.stdout).toContain("no circuit: the model does not compute greater-than");
    const report = readReport(out);
    expect(reportSchemaErrors(report)).toEqual([]);
    expect([report.circuit, report.component_analyses, report.circuit_evaluation, report.lower_circuit, report.random_circuit_control]).toEqual([null, null, null, null, null]);
    expect(report.large_baseline!.n).toBe(200);
    const html = readFileSync(join(out, "index.html"), "utf8");
    const summary = html.slice(html.indexOf('id="summary"'), html.indexOf("<nav"));
    expect(summary).toContain("computes greater-than?");
    expect(summary).toContain("no: the model does not compute greater-than");
    expect(summary).toContain(`${report.statistics.baseline.prob_diff.n}</td>`);
    expect(summary).toContain(formatSummary(report.statistics.baseline.prob_diff));
    expect(summary).toContain(`PD, 200 unbalanced prompts</td><td>${formatSummary(report.large_baseline!.prob_diff)}`);
    const figures = greaterThanFigures(report);
    expect(figures.map((f) => f.name)).toEqual(expect.arrayContaining(["probability-heatmap", "probability-slice", "large-baseline-heatmap", "attention-end-to-yy"]));
    const skipped = figures.filter((f) => f.name.startsWith("skipped-"));
    expect(skipped.map((f) => f.name)).toEqual(expect.arrayContaining(["skipped-path-patching", "skipped-circuit-evaluation", "skipped-random-circuit-control"]));
    for (const note of skipped) {
      expect(note.note).toBe(true);
      expect(note.caption).toContain("not computed, because the model does not compute greater-than");
    }
    for (const figure of figures) expect(readFileSync(join(out, figure.fileName), "utf8")).toBe(figure.standaloneSvg);
  }, ACCEPTANCE_TIMEOUT_MS + 10_000);
});

describe("gpt2-lens greater-than --processing transformer-lens", () => {
  it("says which weights it ran on, and processing keeps the model's PD (log-probabilities are unchanged)", async () => {
    const [plain, processed] = [freshDir(), freshDir()];
    const runs = await Promise.all([
      cli(["greater-than", "--n", "20", "--out", plain], ACCEPTANCE_TIMEOUT_MS),
      cli(["greater-than", "--n", "20", "--processing", "transformer-lens", "--out", processed], ACCEPTANCE_TIMEOUT_MS),
    ]);
    runs.forEach(expectSuccess);
    const [a, b] = [readReport(plain), readReport(processed)];
    expect(a.model.weights).toBe("huggingface");
    expect(b.model.weights).toBe("transformer-lens");
    expect(b.baseline.prob_diff).toBeCloseTo(a.baseline.prob_diff, 4);
    expect(b.baseline.cutoff_sharpness).toBeCloseTo(a.baseline.cutoff_sharpness, 4);
  }, ACCEPTANCE_TIMEOUT_MS + 10_000);
});

// ---- bad input ----

const FIVE = 5;

function goldenSlice(): { tokens: Int32Array; corrupted: Int32Array; yy: Int32Array } {
  const golden = greaterThanGolden();
  return {
    tokens: golden.getInt32("tokens").slice(0, FIVE * 13),
    corrupted: golden.getInt32("corrupted_tokens").slice(0, FIVE * 13),
    yy: golden.getInt32("yy").slice(0, FIVE),
  };
}

const i32 = (data: Int32Array, shape: number[]): TensorToWrite => ({ dtype: "I32", shape, data });

/** Writes a dataset file with the given tensors into the work directory and returns its path. */
function datasetFile(name: string, tensors: Record<string, TensorToWrite>): string {
  const path = join(work, name);
  writeFileSync(path, serializeSafetensors(new Map(Object.entries(tensors))));
  return path;
}

/** Keeps the first `pos` tokens of each prompt. */
function truncate(ids: Int32Array, pos: number): Int32Array {
  const out = new Int32Array(FIVE * pos);
  for (let b = 0; b < FIVE; b++) out.set(ids.subarray(b * 13, b * 13 + pos), b * pos);
  return out;
}

describe("gpt2-lens greater-than errors: non-zero exit, one gpt2-lens: line, no stack, no report", () => {
  type Case = [name: string, args: (out: string) => string[], culprit: RegExp, usage: boolean];
  const cases: Case[] = [
    [
      "a dataset without yy",
      (out) => {
        const { tokens, corrupted } = goldenSlice();
        const file = datasetFile("no-yy.safetensors", { tokens: i32(tokens, [FIVE, 13]), corrupted_tokens: i32(corrupted, [FIVE, 13]) });
        return ["greater-than", "--dataset", file, "--out", out];
      },
      /no-yy\.safetensors has no "yy" tensor/,
      false,
    ],
    [
      "a dataset without corrupted_tokens",
      (out) => {
        const { tokens, yy } = goldenSlice();
        const file = datasetFile("no-corrupted.safetensors", { tokens: i32(tokens, [FIVE, 13]), yy: i32(yy, [FIVE]) });
        return ["greater-than", "--dataset", file, "--out", out];
      },
      /no "corrupted_tokens" tensor/,
      false,
    ],
    [
      "tokens and corrupted_tokens of different shapes",
      (out) => {
        const { tokens, corrupted, yy } = goldenSlice();
        const file = datasetFile("mismatch.safetensors", {
          tokens: i32(tokens, [FIVE, 13]),
          corrupted_tokens: i32(corrupted.slice(0, 4 * 13), [4, 13]),
          yy: i32(yy, [FIVE]),
        });
        return ["greater-than", "--dataset", file, "--out", out];
      },
      /tokens \[5, 13\] and corrupted_tokens \[4, 13\] differ in shape/,
      false,
    ],
    [
      "prompts of 12 tokens instead of 13",
      (out) => {
        const { tokens, corrupted, yy } = goldenSlice();
        const file = datasetFile("twelve.safetensors", {
          tokens: i32(truncate(tokens, 12), [FIVE, 12]),
          corrupted_tokens: i32(truncate(corrupted, 12), [FIVE, 12]),
          yy: i32(yy, [FIVE]),
        });
        return ["greater-than", "--dataset", file, "--out", out];
      },
      /must have 13 tokens.*have 12/,
      false,
    ],
    [
      "a dataset file that does not exist",
      (out) => ["greater-than", "--dataset", join(work, "no-such-dataset.safetensors"), "--out", out],
      /no-such-dataset\.safetensors/,
      false,
    ],
    [
      "a dataset file that is not safetensors (named in the error)",
      (out) => {
        const file = join(work, "not.safetensors");
        writeFileSync(file, "hello");
        return ["greater-than", "--dataset", file, "--out", out];
      },
      /dataset .*\/not\.safetensors is not a valid safetensors file: file is 5 bytes long/,
      false,
    ],
    ["--n 0", (out) => ["greater-than", "--n", "0", "--out", out], /--n must be a positive integer, got "0"/, true],
    ["--n abc", (out) => ["greater-than", "--n", "abc", "--out", out], /--n must be a positive integer, got "abc"/, true],
    [
      "--n too large to hold (refused before the prompts are made)",
      (out) => ["greater-than", "--n", "1000000000", "--out", out],
      /1000000000 prompts \(--n\) need an array of \d+ floats on this model, more than 2\^32 floats/,
      true,
    ],
    ["--processing tl", (out) => ["greater-than", "--processing", "tl", "--out", out], /--processing must be "none" or "transformer-lens", got "tl"/, true],
    ["--seed 1.5", (out) => ["greater-than", "--seed", "1.5", "--out", out], /--seed must be an integer from 0 to 4294967295, got "1\.5"/, true],
    [
      "--dataset together with --n",
      (out) => ["greater-than", "--dataset", GOLDEN_DATASET, "--n", "10", "--out", out],
      /--dataset replaces --n and --seed/,
      true,
    ],
    ["a missing --out", () => ["greater-than", "--n", "5"], /missing --out/, true],
    [
      "a model directory without config.json",
      (out) => {
        const model = join(work, "model-without-config");
        mkdirSync(model, { recursive: true });
        return ["greater-than", "--model", model, "--n", "5", "--out", out];
      },
      /model-without-config.*config\.json/,
      false,
    ],
  ];

  it.each(cases)("%s", async (_, args, culprit, usage) => {
    const dir = freshDir();
    const out = join(dir, "out");
    const run = await cli(args(out));
    expect(run.signal).toBeNull();
    expect(run.status).toBe(usage ? 2 : 1);
    const lines = run.stderr.split("\n").filter((line) => line !== "");
    expect(lines[0], run.stderr).toMatch(/^gpt2-lens: /);
    expect(lines[0]).toMatch(culprit);
    expect(lines.filter((line) => line.startsWith("gpt2-lens:"))).toHaveLength(1);
    expect(lines, run.stderr).toHaveLength(1);
    expect(run.stderr).not.toContain("    at ");
    expect(run.stderr).not.toMatch(/internal error/);
    expect(existsSync(join(out, "report.json")), "no report.json on failure").toBe(false);
    expect(readdirSync(dir), "nothing written, no *.tmp").toEqual([]);
  });

  it("does not touch an existing report when the run fails", async () => {
    const out = freshDir();
    writeFileSync(join(out, "report.json"), "previous\n");
    const { tokens, yy } = goldenSlice();
    const file = datasetFile("no-corrupted-2.safetensors", { tokens: i32(tokens, [FIVE, 13]), yy: i32(yy, [FIVE]) });
    const run = await cli(["greater-than", "--dataset", file, "--out", out]);
    expect(run.status).toBe(1);
    expect(readFileSync(join(out, "report.json"), "utf8")).toBe("previous\n");
    expect(readdirSync(out)).toEqual(["report.json"]);
  });
});

describe("runGreaterThanPipeline input checks", () => {
  it("rejects prompts that are not 13 tokens long with a DatasetError (bad_dataset), not a RangeError", async () => {
    const model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
    const { tokens, corrupted, yy } = goldenSlice();
    for (const pos of [12, 14]) {
      const grow = (ids: Int32Array) =>
        pos < 13 ? truncate(ids, pos) : Int32Array.from({ length: FIVE * pos }, (_, i) => ids[Math.floor(i / pos) * 13 + Math.min(i % pos, 12)]!);
      const data = {
        tokens: { ids: grow(tokens), batch: FIVE, pos },
        corruptedTokens: { ids: grow(corrupted), batch: FIVE, pos },
        yy,
      };
      let error: unknown;
      try {
        runGreaterThanPipeline({ model, data });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(DatasetError);
      expect((error as DatasetError).code).toBe("bad_dataset");
      expect((error as Error).message).toMatch(new RegExp(`must have 13 tokens.*have ${pos} per prompt`));
    }
  });

  it("rejects corrupted prompts of another length or count", async () => {
    const model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
    const { tokens, corrupted, yy } = goldenSlice();
    const clean = { ids: tokens, batch: FIVE, pos: 13 };
    const cases = [
      { tokens: clean, corruptedTokens: { ids: truncate(corrupted, 12), batch: FIVE, pos: 12 }, yy },
      { tokens: clean, corruptedTokens: { ids: corrupted.slice(0, 4 * 13), batch: 4, pos: 13 }, yy },
      { tokens: clean, corruptedTokens: { ids: corrupted, batch: FIVE, pos: 13 }, yy: yy.slice(0, 4) },
    ];
    for (const data of cases) {
      expect(() => runGreaterThanPipeline({ model, data })).toThrow(DatasetError);
    }
  });
});
