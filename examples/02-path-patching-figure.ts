// Reproduces the first path-patching figure of Hanna et al. (senders at END → logits) on the
// bundled model. In `deno jupyter` the last expression of a cell (a Figure or a grid) displays inline.
//   npx deno run -A examples/02-path-patching-figure.ts
import {
  collectPathActivations, Figure, GT_POSITIONS, heatmap, loadHookedGpt2, makeGreaterThanDataset, pathPatchingSweep,
  probabilityDifferenceMetric, yearTokenIds,
} from "../src/index.ts";

const model = await loadHookedGpt2();
const data = makeGreaterThanDataset({ n: 97, seed: 0 });
const context = {
  model,
  clean: collectPathActivations(model, data.tokens),
  corrupted: collectPathActivations(model, data.corruptedTokens),
  logitPosition: GT_POSITIONS.END,
  metric: probabilityDifferenceMetric(yearTokenIds(), data.yy),
};
const result = pathPatchingSweep(context, { senderPosition: GT_POSITIONS.END, receivers: "logits" });
console.log(`baseline PD ${result.baseline.toFixed(3)}`);
result.grid.forEach((row, layer) => console.log(`L${layer}`, row.map((v) => (v ?? NaN).toFixed(3)).join(" ")));

const figure = new Figure({
  name: "path-patching-logits",
  caption: "Change of PD when the path from each sender at END to the logits carries its corrupted value.",
  svg: heatmap({
    title: "Senders → logits",
    values: result.grid,
    rowLabels: result.grid.map((_, l) => `L${l}`),
    colLabels: [...Array.from({ length: model.config.nHeads }, (_, h) => `H${h}`), "MLP"],
    xLabel: "sender",
    yLabel: "layer",
    colorScale: "diverging",
    valueLabel: "Δ PD",
  }),
});
await Deno.mkdir("out", { recursive: true });
await Deno.writeTextFile(`out/${figure.fileName}`, figure.svg);
console.log(`wrote out/${figure.fileName}`);
figure;
