/** `gpt2-lens greater-than`'s control flags: bad values are usage errors; the report carries what they ask for. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { GreaterThanReport } from "../../src/tasks/greater-than/pipeline.ts";
import { runCli, runCliSync } from "../helpers/cli.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

const work = mkdtempSync(join(tmpdir(), "gpt2-lens-gt-controls-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const readReport = (dir: string) => JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as GreaterThanReport;

describe("greater-than control flags: bad values", () => {
  it.each([
    [["--slice", "1"], /--slice must be a start year YY from 2 to 98, got "1"/],
    [["--slice", "99"], /--slice must be a start year YY from 2 to 98, got "99"/],
    [["--slice", "4x"], /--slice must be a whole number \(0, 1, …\), got "4x"/],
    [["--min-pd", "1"], /--min-pd must be a number from 0 to below 1 \(a probability difference\), got "1"/],
    [["--min-pd", "-0.1"], /--min-pd must be a number from 0 to below 1 .*got "-0\.1"/],
    [["--random-circuits", "-2"], /--random-circuits must be a whole number \(0, 1, …\), got "-2"/],
    [["--random-mlps", "some"], /--random-mlps must be "same" \(the circuit's MLPs\) or "random", got "some"/],
    [["--random-circuits", "0", "--random-mlps", "random"], /--random-mlps needs random circuits; --random-circuits is 0/],
    [["--bootstrap", "0"], /--bootstrap must be a positive integer, got "0"/],
    [["--baseline-n", "0"], /--baseline-n must be a positive integer, got "0"/],
    [["--baseline-batch", "8"], /--baseline-batch sets the batch of --baseline-n; give --baseline-n too/],
    [["--control-seed", "4294967296"], /--control-seed must be an integer from 0 to 4294967295, got "4294967296"/],
  ])("%j is a usage error", (args, message) => {
    const run = runCliSync(["greater-than", "--n", "8", ...args, "--out", join(work, "never")]);
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
  });
});

describe("greater-than on a random-weight model (the tiny fixture)", () => {
  it("warns about too few prompts, selects no circuit and says why in the report", () => {
    const out = join(work, "tiny");
    const run = runCliSync(["greater-than", "--model", TINY_DIR, "--n", "5", "--out", out]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/warning: the 5 prompts cover 5 of the 97 start years YY 02…98; .* need --n ≥ 97/);
    expect(run.stdout).toMatch(/^no circuit: the model does not compute greater-than: its PD interval/m);
    const report = readReport(out);
    expect(report.task_check.circuit_analysed).toBe(false);
    expect(report.circuit).toBeNull();
    const files = readdirSync(out);
    expect(files).toEqual(expect.arrayContaining(["skipped-path-patching.svg", "skipped-circuit-evaluation.svg", "probability-slice.svg"]));
    expect(files.some((name) => name.startsWith("circuit-heatmap"))).toBe(false);
    expect(readFileSync(join(out, "index.html"), "utf8")).toContain("Iterative path patching: not computed, because the model does not compute greater-than");
  }, 60_000);
});

describe("greater-than controls on the bundled model", () => {
  it("--random-circuits, --baseline-n/--baseline-batch, --slice and --bootstrap reach the report, its figures and the log", async () => {
    const out = join(work, "bundled");
    const run = await runCli(
      ["greater-than", "--n", "97", "--random-circuits", "3", "--random-mlps", "random", "--baseline-n", "40", "--baseline-batch", "16",
        "--slice", "50", "--bootstrap", "200", "--control-seed", "5", "--out", out],
      {}, 300_000,
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/warning/);
    expect(run.stdout).toMatch(/^95 % intervals over 97 prompts: PD \[0\.\d{4}, 0\.\d{4}\]/m);
    expect(run.stdout).toMatch(/^baseline on 40 unbalanced prompts: PD 0\.\d{4} \[/m);
    expect(run.stdout).toMatch(/^random-circuit control: \d+ % of 3 random head sets reach the circuit's PD/m);
    const report = readReport(out);
    expect(report.random_circuit_control!.k).toBe(3);
    expect(report.random_circuit_control!.seed).toBe(5);
    expect(report.random_circuit_control!.mlps).toBe("random");
    expect(report.large_baseline!.n).toBe(40);
    expect(report.large_baseline!.batch_size).toBe(16);
    expect(report.large_baseline!.prob_diff.n).toBe(40);
    expect(report.probability_slice.yy).toBe(50);
    expect(report.probability_slice.prompts).toBe(1);
    expect(report.statistics.bootstrap).toMatchObject({ resamples: 200, seed: 5, confidence: 0.95 });
    expect(report.statistics.selection_cells.length).toBeGreaterThan(0);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(["probability-slice.svg", "random-circuit-control.svg", "large-baseline-heatmap.svg"]));
  }, 320_000);
});
