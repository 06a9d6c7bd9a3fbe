/**
 * `gpt2-lens related-tasks` as shipped (dist/cli/main.js in a child process): argument errors are
 * usage errors (exit 2) printed before any work, and a small run on the bundled model writes the
 * report whole.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, runCli, runCliSync } from "../helpers/cli.ts";
import type { RelatedTasksReport } from "../../src/tasks/related/run-related.ts";

const work = mkdtempSync(join(tmpdir(), "gpt2-lens-related-tasks-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let dirs = 0;
const fresh = (): string => join(work, `case-${dirs++}`);

function expectUsageError(run: CliRun, message: RegExp): void {
  expect(run.signal).toBeNull();
  expect(run.stdout, "nothing done").toBe("");
  expect(run.stderr).toMatch(/^gpt2-lens: related-tasks: .* \(see "gpt2-lens --help"\)\n$/);
  expect(run.stderr).toMatch(message);
  expect(run.status).toBe(2);
}

const EXTRA_FAMILY = {
  id: "before", name: "came before", mask: "<", centuries: [17], yy: [10, 20],
  template: "<|endoftext|> {year} came before {XX}", corrupted: "<|endoftext|> {XX}99 came before {XX}",
};

describe("related-tasks argument errors", () => {
  const families = join(work, "families");
  mkdirSync(families);
  writeFileSync(join(families, "broken.json"), "[{");
  writeFileSync(join(families, "taken.json"), JSON.stringify([{ ...EXTRA_FAMILY, id: "3" }]));
  writeFileSync(join(families, "bad-mask.json"), JSON.stringify([{ ...EXTRA_FAMILY, mask: "<=" }]));
  const aFile = join(work, "a-file");
  writeFileSync(aFile, "mine");

  it.each([
    [[], /missing --out/],
    [["--n", "0"], /--n must be a positive integer, got "0"/],
    [["--n", "ten"], /--n must be a positive integer/],
    [["--seed", "-1"], /--seed must be an integer from 0/],
    [["--frobnicate", "1"], /unknown option --frobnicate/],
    [["extra"], /unexpected argument "extra"/],
    [["--circuit", ""], /--circuit needs a list of heads and MLPs/],
    [["--circuit", "L7H0"], /--circuit: component L7H0: layer 7 is outside the model's layers 0…5/],
    [["--circuit", "L0H0@XX1"], /--circuit: circuit member "L0H0@XX1": the position after "@" must be END or YY/],
    [["--circuit", "L0H9"], /head 9 is outside 0…3/],
    [["--families", join(families, "broken.json")], /--families .*broken\.json: .*not valid JSON/],
    [["--families", join(families, "taken.json")], /family id "3" is already used/],
    [["--families", join(families, "bad-mask.json")], /mask must be ">" or "<"/],
  ])("%j", (args, message) => {
    const out = args.length === 0 ? [] : ["--out", fresh()];
    expectUsageError(runCliSync(["related-tasks", ...args, ...out]), message);
  });

  it("an --out that is a file, or a directory holding other files", () => {
    expectUsageError(runCliSync(["related-tasks", "--out", aFile]), new RegExp(`--out: ${aFile} is a file, not a directory`));
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, "notes.txt"), "mine");
    expectUsageError(runCliSync(["related-tasks", "--out", dir]), /holds notes\.txt, which is not part of a related-tasks report/);
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("mine");
  });

  it("--help prints the usage", () => {
    const run = runCliSync(["related-tasks", "--help"]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^gpt2-lens related-tasks \[--model DIR\] \[--n 97\] \[--seed 0\] \[--circuit SPEC\] \[--families FILE\] --out DIR/);
  });
});

describe("related-tasks on the bundled model (small runs)", () => {
  const selected = join(work, "selected");
  const given = join(work, "given");
  let selectedRun: CliRun;
  let givenRun: CliRun;
  beforeAll(async () => {
    const familiesFile = join(work, "extra.json");
    writeFileSync(familiesFile, JSON.stringify([EXTRA_FAMILY]));
    [selectedRun, givenRun] = await Promise.all([
      runCli(["related-tasks", "--n", "12", "--seed", "1", "--out", selected], {}, 240_000),
      runCli(["related-tasks", "--n", "10", "--circuit", "L0H0,L0H1,MLP0,MLP1,MLP3,L0H3@YY", "--families", familiesFile, "--out", given], {}, 240_000),
    ]);
  }, 250_000);

  const read = (dir: string) => JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as RelatedTasksReport;

  it("selects the greater-than circuit when --circuit is not given, and reports every family", () => {
    expect(selectedRun.status, selectedRun.stderr.slice(-2000)).toBe(0);
    const report = read(selected);
    expect(report.n).toBe(12);
    expect(report.seed).toBe(1);
    expect(report.circuit.source).toBe("greater-than selection on 97 prompts, seed 1");
    expect(report.circuit.members).toMatch(/^(L\d+H\d+|MLP\d+)(@YY)?(,(L\d+H\d+|MLP\d+)(@YY)?)*$/);
    expect(report.families.map((f) => f.id)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    for (const family of report.families) {
      expect(family.prompts.requested).toBe(12);
      const excluded = Object.values(family.prompts.excluded).reduce((a, b) => a + (b ?? 0), 0);
      expect(family.prompts.used + excluded).toBe(12);
      if (family.prompts.used === 0) continue;
      for (const value of [family.prob_diff, family.cutoff_sharpness, family.corrupted_prob_diff, family.circuit!.prob_diff]) {
        expect(Number.isFinite(value)).toBe(true);
      }
      expect(Math.abs(family.prob_diff!)).toBeLessThanOrEqual(1);
      expect(family.path_patching_logits).toHaveLength(report.model.n_layers);
      expect(family.probability_heatmap.mean_probability.every((row) => row.length === 100)).toBe(true);
      expect(selectedRun.stdout).toContain(`family ${family.id} (${family.name}, ${family.mask}): ${family.prompts.used} prompts`);
    }
    // With 12 prompts YY runs 02…13 only, where the XX01 corruption barely differs: the stated rule decides.
    for (const f of report.families.filter((f) => f.prob_diff !== null)) {
      expect(f.does_task).toBe(f.prob_diff! > 0 && f.prob_diff! - f.corrupted_prob_diff! >= 0.1);
    }
    const files = readdirSync(selected).sort();
    expect(files).toContain("related-summary.svg");
    expect(files).toContain("family-7-probabilities.svg");
    expect(files).toContain("family-7-path-patching.svg");
    expect(files).toContain("index.html");
    expect(readFileSync(join(selected, "index.html"), "utf8")).toContain("does the greater-than circuit generalize?");
  });

  it("takes --circuit and the families of --families", () => {
    expect(givenRun.status, givenRun.stderr.slice(-2000)).toBe(0);
    const report = read(given);
    expect(report.circuit).toEqual({ members: "L0H0,L0H1,MLP0,MLP1,MLP3,L0H3@YY", source: "--circuit" });
    expect(report.families.map((f) => f.id)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "before"]);
    const extra = report.families.at(-1)!;
    expect(extra.mask).toBe("<");
    expect(extra.prompts.used).toBe(10);
    expect(extra.probability_heatmap.yy).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(extra.prompts.examples[0]).toEqual({ clean: "<|endoftext|> 1710 came before 17", corrupted: "<|endoftext|> 1799 came before 17" });
    expect(readdirSync(given)).toContain("family-before-probabilities.svg");
  });
});
