import type { Gpt2Model } from "../../gpt2/model.ts";
import { logitAttrs } from "../../patching/direct-logit-attribution.ts";
import { htmlGrid } from "../../patching/html-grid.ts";
import { componentLabel } from "../../patching/nodes.ts";
import type { PathActivations } from "../../patching/path-activations.ts";
import { cachedHeadOutput } from "../../patching/recompute.ts";
import type { SelectedHead } from "./circuit-selection.ts";
import { type HtmlDisplayed, withHtmlDisplay } from "./display.ts";
import { meanRowsByYy } from "./yy-groups.ts";

export interface HeadLogitLens {
  readonly head: string;
  readonly yy: number[];
  /** Mean logit contribution to "00".."99" per YY, each row centred on its mean. */
  readonly year_logits: number[][];
}

/**
 * Logit lens of each head's output at `pos` (its z · W_O[h], no bias) through ln_final with the
 * clean run's scale frozen (logitAttrs with applyLn: the head's additive share of the logits),
 * restricted to the year tokens and averaged over the prompts of each YY.
 */
export function headLogitLens(
  model: Gpt2Model, clean: PathActivations, heads: readonly SelectedHead[], pos: number, yy: ArrayLike<number>,
  yearTokens: readonly number[],
): (HeadLogitLens & HtmlDisplayed)[] {
  return heads.map((h) => {
    const output = cachedHeadOutput(model, clean, h.layer, h.head, pos);
    const attrs = logitAttrs(model, clean.cache, output, { pos, tokens: yearTokens, applyLn: true });
    const { yy: groups, rows } = meanRowsByYy(attrs.data, yearTokens.length, yy, { centre: true });
    const lens = { head: componentLabel({ kind: "head", ...h }), yy: groups, year_logits: rows };
    return withHtmlDisplay(lens, (value) =>
      htmlGrid({
        caption: `Logit lens of ${value.head}: start year YY (rows) × year token (columns)`,
        rowLabels: value.yy.map(String), colLabels: yearTokens.map((_, y) => String(y).padStart(2, "0")), values: value.year_logits,
      }),
    );
  });
}
