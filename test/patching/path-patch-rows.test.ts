/**
 * pathPatchRows against PathOracle (hooked forward passes with the path's patches), prompt by
 * prompt, on the tiny model with a per-row year-logit difference, and its mean against pathPatch.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import type { NodeAt } from "../../src/patching/nodes.ts";
import { collectPathActivations } from "../../src/patching/path-activations.ts";
import { pathPatchRows, type RowSoftmaxMetric } from "../../src/patching/path-patch-rows.ts";
import { pathPatch, type PathPatchingContext, type PathPatchOptions } from "../../src/patching/path-patching.ts";
import { PatchingError } from "../../src/patching/patching-error.ts";
import { GT_POSITIONS, makeGreaterThanDataset } from "../../src/tasks/greater-than/dataset.ts";
import { yearTokenIds } from "../../src/tasks/greater-than/years.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";
import { PathOracle } from "../helpers/path-oracle.ts";
import { thrownBy } from "../helpers/thrown.ts";

const { YY, END } = GT_POSITIONS;
const years = yearTokenIds();
const data = makeGreaterThanDataset({ n: 12, seed: 2 });

/** Per row: mean logit of years 50…99 minus that of 00…49 (from the year tokens' logits). */
const rowLogitDiff: RowSoftmaxMetric = {
  tokens: years,
  rows: (_logSumExp, yearLogits) =>
    Float64Array.from({ length: yearLogits.shape[0]! }, (_, r) => {
      let total = 0;
      for (let y = 0; y < 100; y++) total += (y >= 50 ? 1 : -1) * yearLogits.data[r * 100 + y]!;
      return total / 50;
    }),
};
const meanOf = (logits: Tensor) => {
  const rows = rowLogitDiffOfFull(logits);
  return rows.reduce((a, b) => a + b, 0) / rows.length;
};
function rowLogitDiffOfFull(logits: Tensor): number[] {
  const vocab = logits.shape[logits.rank - 1]!;
  return Array.from({ length: logits.size / vocab }, (_, r) => {
    let total = 0;
    for (let y = 0; y < 100; y++) total += (y >= 50 ? 1 : -1) * logits.data[r * vocab + years[y]!]!;
    return total / 50;
  });
}

let model: HookedGpt2;
let context: PathPatchingContext;
let oracle: PathOracle;

beforeAll(async () => {
  model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
  context = {
    model, clean: collectPathActivations(model, data.tokens), corrupted: collectPathActivations(model, data.corruptedTokens),
    logitPosition: END, metric: meanOf,
  };
  oracle = new PathOracle(model, data.tokens, data.corruptedTokens);
}, 60_000);

describe("pathPatchRows", () => {
  const paths: [string, PathPatchOptions][] = [
    ["L1H2 at END → logits", { sender: { kind: "head", layer: 1, head: 2, pos: END }, receivers: "logits" }],
    ["MLP0 at END → L1H0's q, via MLP1", {
      sender: { kind: "mlp", layer: 0, pos: END },
      receivers: [{ node: { kind: "head", layer: 1, head: 0, pos: END }, channels: ["q"] }],
      continuation: [{ kind: "mlp", layer: 1, pos: END }],
    }],
    ["L0H1 at YY → L1H0 and L1H3's keys and values at END, via MLP1", {
      sender: { kind: "head", layer: 0, head: 1, pos: YY },
      receivers: [0, 3].map((head) => ({ node: { kind: "head", layer: 1, head, pos: END } as NodeAt, channels: ["k", "v"] as const })),
      continuation: [{ kind: "mlp", layer: 1, pos: END }],
    }],
  ];

  it.each(paths)("%s: each prompt's change equals PathOracle's; the mean equals pathPatch", (_, path) => {
    const rows = pathPatchRows(context, path, rowLogitDiff);
    const base = rowLogitDiffOfFull(oracle.logits(new Map(), END));
    const patched = rowLogitDiffOfFull(oracle.logits(oracle.pathOutputs(path), END));
    expect(rows).toHaveLength(12);
    rows.forEach((value, b) => expect(value, `prompt ${b}`).toBeCloseTo(patched[b]! - base[b]!, 4));
    expect(rows.some((value) => Math.abs(value) > 1e-3)).toBe(true);
    expect(rows.reduce((a, b) => a + b, 0) / rows.length).toBeCloseTo(pathPatch(context, path), 5);
  });

  it("a row metric of the wrong length and a sender that feeds no receiver are typed errors", () => {
    const short: RowSoftmaxMetric = { tokens: years, rows: () => new Float64Array(3) };
    const path = paths[0]![1];
    expect(thrownBy(() => pathPatchRows(context, path, short), PatchingError, "bad_metric").message).toContain("3 values for a batch of 12");
    const upstream = { sender: { kind: "mlp", layer: 1, pos: END } as NodeAt, receivers: [{ node: { kind: "mlp", layer: 0, pos: END } as NodeAt, channels: ["in" as const] }] };
    expect(thrownBy(() => pathPatchRows(context, upstream, rowLogitDiff), PatchingError, "not_upstream").message).toContain("not upstream");
  });
});
