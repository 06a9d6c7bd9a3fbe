import type { Gpt2Model } from "../../gpt2/model.ts";
import { htmlGrid } from "../../patching/html-grid.ts";
import { componentLabel } from "../../patching/nodes.ts";
import type { PathActivations } from "../../patching/path-activations.ts";
import { cachedAttentionFrom } from "../../patching/recompute.ts";
import type { SelectedHead } from "./circuit-selection.ts";
import { GT_POSITIONS } from "./dataset.ts";
import { type HtmlDisplayed, withHtmlDisplay } from "./display.ts";
import { meanRowsByYy, yyGroups } from "./yy-groups.ts";

/** What each of the 13 positions of "<|endoftext|> The {noun} lasted from the year XXYY to the year XX" holds. */
export const GT_POSITION_LABELS: readonly string[] = [
  "<|endoftext|>", " The", " {noun}", " lasted", " from", " the", " year", " XX", "YY", " to", " the", " year", " XX (END)",
];

export interface HeadAttentionPattern {
  readonly head: string;
  /** Mean attention [query][key] over the prompts; null above the diagonal (a causal head cannot look ahead). */
  readonly pattern: (number | null)[][];
}

export interface AttentionPatterns {
  readonly positions: readonly string[];
  readonly heads: HeadAttentionPattern[];
}

/** Each head's attention pattern over all query × key positions, averaged over the prompts of a cached run. */
export function meanAttentionPatterns(
  model: Gpt2Model, acts: PathActivations, heads: readonly SelectedHead[], positions: readonly string[] = GT_POSITION_LABELS,
): AttentionPatterns & HtmlDisplayed {
  const entries = heads.map((h): HeadAttentionPattern => ({
    head: componentLabel({ kind: "head", ...h }),
    pattern: Array.from({ length: acts.pos }, (_, query) => {
      const attended = cachedAttentionFrom(model, acts, h.layer, h.head, query).data;
      return Array.from({ length: acts.pos }, (_, key) => {
        if (key > query) return null;
        let total = 0;
        for (let b = 0; b < acts.batch; b++) total += attended[b * (query + 1) + key]!;
        return total / acts.batch;
      });
    }),
  }));
  const labels = acts.pos === positions.length ? positions : Array.from({ length: acts.pos }, (_, p) => String(p));
  return withHtmlDisplay({ positions: [...labels], heads: entries }, (value) =>
    value.heads.map((h) => htmlGrid({ caption: `${h.head}: mean attention (query rows × key columns)`, rowLabels: value.positions, colLabels: value.positions, values: h.pattern })).join("<br>"),
  );
}

export interface AttentionToYyByYy {
  readonly yy: number[];
  readonly heads: string[];
  /** [head][YY index]: mean attention from END to the YY position over the prompts with that YY. */
  readonly attention: number[][];
}

/** END → YY attention of each head as a function of YY. */
export function attentionToYyByYy(
  model: Gpt2Model, acts: PathActivations, heads: readonly SelectedHead[], yy: ArrayLike<number>,
  positions: { readonly YY: number; readonly END: number } = GT_POSITIONS,
): AttentionToYyByYy & HtmlDisplayed {
  const { YY, END } = positions;
  let groups: number[] = [];
  const attention = heads.map((h) => {
    const pattern = cachedAttentionFrom(model, acts, h.layer, h.head, END).data;
    const means = meanRowsByYy(pattern, 1, yy, { stride: END + 1, offset: YY });
    groups = means.yy;
    return means.rows.map((row) => row[0]!);
  });
  if (heads.length === 0) groups = yyGroups(yy);
  const labels = heads.map((h) => componentLabel({ kind: "head", ...h }));
  return withHtmlDisplay({ yy: groups, heads: labels, attention }, (value) =>
    htmlGrid({ caption: "Mean attention END → YY per YY", rowLabels: value.heads, colLabels: value.yy.map(String), values: value.attention }),
  );
}

/** Mean attention from END to YY, [layer][head], over the prompts of a cached run. */
export function meanAttentionEndToYy(model: Gpt2Model, acts: PathActivations): number[][] {
  const { END, YY } = GT_POSITIONS;
  return Array.from({ length: model.config.nLayers }, (_, layer) =>
    Array.from({ length: model.config.nHeads }, (_, head) => {
      const pattern = cachedAttentionFrom(model, acts, layer, head, END);
      let total = 0;
      for (let b = 0; b < acts.batch; b++) total += pattern.data[b * (END + 1) + YY]!;
      return total / acts.batch;
    }),
  );
}
