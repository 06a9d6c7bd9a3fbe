/**
 * `gpt2-lens greater-than --circuit`: bad specs are usage errors (exit 2, one line, nothing written);
 * a given circuit is evaluated and reported as given.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { GreaterThanReport } from "../../src/tasks/greater-than/pipeline.ts";
import { withCircuit } from "../helpers/greater-than-report.ts";
import { expectUsageError, runCli, scratchDirectory } from "../helpers/cli.ts";

const { fresh: freshDir } = scratchDirectory("gpt2-lens-circuit-cli-");

describe("greater-than --circuit errors", () => {
  const cases: [spec: string, culprit: RegExp][] = [
    ["L9H0,MLP1", /--circuit: component L9H0: layer 9 is outside the model's layers 0…5/],
    ["L0H7", /--circuit: component L0H7: head 7 is outside 0…3/],
    ["L0H0,,MLP1", /--circuit: circuit "L0H0,,MLP1": entry 2 is empty/],
    ["L0H0,embed", /--circuit: circuit "L0H0,embed": the embedding is not a circuit member at END/],
    ["L0H0,MLP1,L0H0", /--circuit: circuit "L0H0,MLP1,L0H0" names L0H0 twice/],
    ["head0", /--circuit: unknown component "head0"/],
    [" ", /--circuit needs a comma-separated list of heads and MLPs/],
  ];
  it.each(cases)("--circuit %j", async (spec, culprit) => {
    const out = freshDir();
    await expectUsageError(["greater-than", "--n", "5", "--circuit", spec, "--out", out], "greater-than", culprit, out);
  });
});

describe("greater-than --circuit on the bundled model", () => {
  it("evaluates the given circuit and says so", async () => {
    const out = freshDir();
    const run = await runCli(["greater-than", "--n", "20", "--circuit", "L0H1, MLP0 ,L0H0", "--out", out], {}, 120_000);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/circuit \(given\), paper's evaluation: PD /);
    const report = withCircuit(JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as GreaterThanReport);
    expect(report.circuit.source).toBe("given");
    expect(report.circuit.heads).toEqual(["L0H0", "L0H1"]);
    expect(report.circuit.mlps).toEqual(["blocks.0.mlp"]);
    expect(report.circuit_evaluation.heads).toEqual(["L0H0", "L0H1"]);
    expect(report.circuit_evaluation.mlps).toEqual(["MLP0"]);
    expect(readdirSync(out)).toContain("circuit-heatmap-paper.svg");
  }, 130_000);
});
