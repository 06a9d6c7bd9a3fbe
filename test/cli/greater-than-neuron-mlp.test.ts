/** --neuron-mlp: the MLP whose neurons component_analyses.neurons analyses. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { makeGreaterThanDataset } from "../../src/tasks/greater-than/dataset.ts";
import { runGreaterThanPipeline } from "../../src/tasks/greater-than/pipeline.ts";
import { withCircuit } from "../helpers/greater-than-report.ts";
import { BUNDLED_MODEL_DIR } from "../helpers/fixtures.ts";
import { runCliSync } from "../helpers/cli.ts";

describe("greater-than --neuron-mlp", () => {
  it.each([
    [["--neuron-mlp", "x"], /--neuron-mlp must be a layer number/],
    [["--neuron-mlp", "-1"], /--neuron-mlp/],
    [["--neuron-mlp", "6"], /--neuron-mlp 6 is not an MLP of this model \(layers 0…5\)/],
  ])("%j is a usage error", (args, message) => {
    const out = join(mkdtempSync(join(tmpdir(), "gt-neuron-mlp-")), "report");
    const run = runCliSync(["greater-than", "--n", "8", ...args, "--out", out]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it("analyses the chosen MLP instead of the most important one", async () => {
    const model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
    const data = makeGreaterThanDataset({ n: 20, seed: 1 });
    // 20 prompts (YY 02…21) barely separate clean from corrupted; the task check would select no circuit.
    const report = withCircuit(runGreaterThanPipeline({ model, data, neuronMlp: 2, enforceTaskCheck: false }));
    expect(report.component_analyses.neurons!.layer).toBe(2);
    expect(report.component_analyses.neurons!.mlp).toBe("blocks.2.mlp");
    expect(() => runGreaterThanPipeline({ model, data, neuronMlp: 7 })).toThrow(/neuronMlp 7 is not an MLP of this model/);
  });
});
