import type { Gpt2Model } from "../../gpt2/model.ts";
import { logitAttrs } from "../../patching/direct-logit-attribution.ts";
import { componentName } from "../../patching/nodes.ts";
import type { PathActivations } from "../../patching/path-activations.ts";

export interface MlpLogitLens {
  readonly mlp: string;
  readonly yy: number[];
  /** Mean logit contribution to "00".."99" per YY, each row centred on its mean. */
  readonly year_logits: number[][];
}

/**
 * Logit lens of one MLP's output at `pos`, through ln_final with the clean run's scale frozen
 * (logitAttrs with applyLn: the MLP's additive share of the logits): what the MLP alone writes
 * towards each year token, averaged over the prompts of each YY.
 */
export function mlpLogitLens(
  model: Gpt2Model, clean: PathActivations, layer: number, pos: number, yy: Int32Array, yearTokens: readonly number[],
): MlpLogitLens {
  const years = yearTokens.length;
  const attrs = logitAttrs(model, clean.cache, clean.residualAt(layer, "hook_mlp_out", pos), { pos, tokens: yearTokens, applyLn: true });
  const groups = [...new Set(yy)].sort((a, b) => a - b);
  const sums = new Map<number, { total: Float64Array; count: number }>(
    groups.map((g) => [g, { total: new Float64Array(years), count: 0 }]),
  );
  for (let b = 0; b < clean.batch; b++) {
    const group = sums.get(yy[b]!)!;
    group.count++;
    for (let y = 0; y < years; y++) group.total[y]! += attrs.data[b * years + y]!;
  }
  const rows = groups.map((g) => {
    const { total, count } = sums.get(g)!;
    const row = Array.from(total, (v) => v / count);
    const rowMean = row.reduce((a, v) => a + v, 0) / row.length;
    return row.map((v) => v - rowMean);
  });
  return { mlp: componentName({ kind: "mlp", layer }), yy: groups, year_logits: rows };
}
