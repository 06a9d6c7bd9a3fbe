// Denoising activation patching of the residual stream, TransformerLens-style: result [layer, pos].
//   npx deno run -A examples/03-activation-patching.ts
import {
  activationPatching, GT_POSITIONS, loadHookedGpt2, makeGreaterThanDataset, probabilityDifferenceMetric, yearTokenIds,
} from "../src/index.ts";

const model = await loadHookedGpt2();
const data = makeGreaterThanDataset({ n: 50, seed: 1 });
const pd = probabilityDifferenceMetric(yearTokenIds(), data.yy);
const result = activationPatching(model, {
  component: "resid_pre",
  by: "layer_pos",
  clean: data.tokens,
  corrupted: data.corruptedTokens,
  logitPositions: [GT_POSITIONS.END],
  metric: (logits) => pd(logits.reshape([data.tokens.batch, -1])),
});
console.log(`PD clean ${Number(result.baseline.clean).toFixed(3)}, corrupted ${Number(result.baseline.corrupted).toFixed(3)}`);
for (let layer = 0; layer < model.config.nLayers; layer++) {
  const row = Array.from({ length: data.tokens.pos }, (_, pos) => Number(result.at(layer, pos)).toFixed(2));
  console.log(`L${layer}: ${row.join(" ")}`);
}
result;
