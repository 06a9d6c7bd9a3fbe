import type { Gpt2Model } from "../../gpt2/model.ts";
import type { PathActivations } from "../../patching/path-activations.ts";
import { componentName } from "../../patching/nodes.ts";
import { yearContributions, yearReadDirections } from "./year-unembedding.ts";

export interface MlpLogitLens {
  readonly mlp: string;
  readonly yy: number[];
  /** Mean logit contribution to "00".."99" per YY, each row centred on its mean. */
  readonly year_logits: number[][];
}

/**
 * Logit lens of one MLP's output at `pos`, through ln_final with the clean run's scale frozen: what
 * the MLP alone writes towards each year token, averaged over the prompts of each YY.
 */
export function mlpLogitLens(
  model: Gpt2Model, clean: PathActivations, layer: number, pos: number, yy: Int32Array, yearTokens: readonly number[],
): MlpLogitLens {
  const d = model.config.dModel;
  const directions = yearReadDirections(model, yearTokens);
  const groups = [...new Set(yy)].sort((a, b) => a - b);
  const sums = new Map<number, { total: Float64Array; count: number }>(
    groups.map((g) => [g, { total: new Float64Array(yearTokens.length), count: 0 }]),
  );
  for (let b = 0; b < clean.batch; b++) {
    const offset = (b * clean.pos + pos) * d;
    const vector = clean.mlpOut[layer]!.subarray(offset, offset + d);
    const contributions = yearContributions(vector, clean.finalScale[b * clean.pos + pos]!, directions);
    const group = sums.get(yy[b]!)!;
    group.count++;
    contributions.forEach((value, y) => (group.total[y]! += value));
  }
  const rows = groups.map((g) => {
    const { total, count } = sums.get(g)!;
    const row = Array.from(total, (v) => v / count);
    const rowMean = row.reduce((a, v) => a + v, 0) / row.length;
    return row.map((v) => v - rowMean);
  });
  return { mlp: componentName({ kind: "mlp", layer }), yy: groups, year_logits: rows };
}
