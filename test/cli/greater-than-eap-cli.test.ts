/**
 * `gpt2-lens greater-than --method eap|eap-ig`: bad flag combinations are usage errors (exit 2, one
 * line, nothing written); on the bundled model the circuit comes from the edge scores, its exact
 * evaluation is reported and the figures are written.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { GreaterThanReport } from "../../src/tasks/greater-than/pipeline.ts";
import { withCircuit } from "../helpers/greater-than-report.ts";
import { expectUsageError, runCli, scratchDirectory } from "../helpers/cli.ts";

const { fresh: freshDir } = scratchDirectory("gpt2-lens-eap-cli-");

describe("greater-than --method errors", () => {
  const cases: [args: string[], culprit: RegExp][] = [
    [["--method", "acdc"], /--method must be "path-patching", "eap" or "eap-ig", got "acdc"/],
    [["--steps", "3"], /--steps needs --method eap or eap-ig/],
    [["--edges", "30"], /--edges needs --method eap or eap-ig/],
    [["--method", "eap", "--steps", "3"], /--steps is EAP-IG's/],
    [["--method", "eap-ig", "--steps", "0"], /--steps must be a positive integer, got "0"/],
    [["--method", "eap-ig", "--edges", "x"], /--edges must be a positive integer, got "x"/],
    [["--method", "eap-ig", "--circuit", "L0H1"], /--circuit and --method eap\/eap-ig both choose the circuit/],
  ];
  it.each(cases)("%j", async (args, culprit) => {
    const out = freshDir();
    await expectUsageError(["greater-than", "--n", "5", ...args, "--out", out], "greater-than", culprit, out);
  });
});

describe("greater-than --method eap-ig on the bundled model", () => {
  it("takes the circuit from the top edges and evaluates it exactly", async () => {
    const out = freshDir();
    const run = await runCli(["greater-than", "--n", "97", "--method", "eap-ig", "--steps", "2", "--edges", "40", "--out", out], {}, 120_000);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/eap-ig circuit: \d+ edges \(top 40 of \d+\), exact PD /);
    const report = withCircuit(JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as GreaterThanReport);
    const edge = report.edge_attribution!;
    expect(report.circuit.source).toBe("eap-ig");
    expect(edge.steps).toBe(2);
    expect(edge.edges.length).toBeGreaterThan(0);
    expect(edge.edges.length).toBeLessThanOrEqual(40);
    // Edges are ranked by |score|.
    for (let i = 1; i < edge.edges.length; i++) expect(Math.abs(edge.edges[i]!.score)).toBeLessThanOrEqual(Math.abs(edge.edges[i - 1]!.score));
    expect(edge.faithfulness.find((p) => p.k === 40)!.metric).toBeCloseTo(edge.prob_diff, 10);
    expect(report.circuit_evaluation.heads).toEqual(edge.heads);
    expect(edge.comparison.length).toBeGreaterThan(2);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(["edge-faithfulness.svg", "edge-scores-vs-path-patching.svg"]));
  }, 130_000);
});
