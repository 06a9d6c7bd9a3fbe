/**
 * The attention viewer's data: the prompt's tokens and, per shown layer, every head's pattern as the
 * lower triangle (query q keeps keys 0…q; the causal mask makes the rest 0), rounded to a few
 * decimals so a GPT-2-small page stays small. This is what the page's inline script reads.
 */

import { InputError } from "../errors.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** Decimals kept per attention weight in the page (and shown by it). */
export const ATTENTION_DECIMALS = 3;

export interface AttentionViewerData {
  /** One string per token, as toStrTokens gives them. */
  readonly tokens: readonly string[];
  readonly nHeads: number;
  /** The layers shown, ascending; `patterns[i]` belongs to `layers[i]`. */
  readonly layers: readonly number[];
  /** [layer index][head][query] → weights of keys 0…query. */
  readonly patterns: readonly (readonly (readonly (readonly number[])[])[])[];
}

/** Rounds to ATTENTION_DECIMALS, turning -0 into 0 so the JSON stays short. */
export function roundWeight(value: number): number {
  const scale = 10 ** ATTENTION_DECIMALS;
  const rounded = Math.round(value * scale) / scale;
  return rounded === 0 ? 0 : rounded;
}

/**
 * Builds the data from `hook_pattern` tensors of one prompt, `[1, head, pos, pos]` each, in the
 * order of `layers`.
 */
export function attentionViewerData(tokens: readonly string[], layers: readonly number[], patterns: readonly Tensor[]): AttentionViewerData {
  if (patterns.length !== layers.length) {
    throw new InputError(`attentionViewerData: ${patterns.length} patterns for ${layers.length} layers`, "shape_mismatch");
  }
  if (layers.length === 0) throw new InputError("attentionViewerData: no layers to show", "bad_layer");
  const pos = tokens.length;
  const nHeads = patterns[0]?.shape[1] ?? 0;
  const perLayer = patterns.map((pattern, index) => {
    const [batch, heads, queries, keys] = pattern.shape;
    if (pattern.shape.length !== 4 || batch !== 1 || heads !== nHeads || queries !== pos || keys !== pos) {
      throw new InputError(
        `attentionViewerData: layer ${layers[index]}'s pattern has shape [${pattern.shape.join(", ")}], expected [1, ${nHeads}, ${pos}, ${pos}]`,
        "bad_shape",
      );
    }
    return Array.from({ length: nHeads }, (_, head) =>
      Array.from({ length: pos }, (_, query) => {
        const row = (head * pos + query) * pos;
        return Array.from(pattern.data.subarray(row, row + query + 1), roundWeight);
      }),
    );
  });
  return { tokens: [...tokens], nHeads, layers: [...layers], patterns: perLayer };
}
