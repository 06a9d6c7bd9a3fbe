/**
 * attentionViewer(model, prompt): one run caching every shown layer's `attn.hook_pattern`, made into
 * the interactive HTML widget (head grid, heatmap, token hover) that displays inline in a notebook.
 */

import { InputError } from "../errors.ts";
import { toStrTokens, toTokens } from "../gpt2/tokenizer.ts";
import type { HookName } from "../gpt2/hook-names.ts";
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import { attentionViewerData, type AttentionViewerData } from "./attention-viewer-data.ts";
import { attentionViewerHtml } from "./attention-viewer-html.ts";
import { JUPYTER_DISPLAY, type HtmlDisplay, type MimeBundle } from "./jupyter-display.ts";

export interface AttentionViewerOptions {
  /** The layers to show (default: all), each once; shown in ascending order. */
  readonly layers?: readonly number[];
  /** For a text prompt: put BOS (`<|endoftext|>`) first. Default false: the prompt runs verbatim. */
  readonly prependBos?: boolean;
  /** The widget's title; default "Attention patterns". */
  readonly title?: string;
}

export interface AttentionViewer extends HtmlDisplay {
  /** The self-contained widget: write it to a .html file or put it in a page. */
  readonly html: string;
  /** What the widget shows: tokens and the rounded patterns of its layers. */
  readonly data: AttentionViewerData;
  [JUPYTER_DISPLAY](): MimeBundle;
}

export function attentionViewer(
  model: HookedGpt2,
  prompt: string | readonly number[],
  options: AttentionViewerOptions = {},
): AttentionViewer {
  const tokens = promptTokens(prompt, options.prependBos ?? false);
  const layers = shownLayers(options.layers, model.config.nLayers);
  const names = layers.map((layer) => `blocks.${layer}.attn.hook_pattern` as HookName);
  const cache = model.runUntil(tokens, names[names.length - 1]!, { cache: names });
  const data = attentionViewerData(toStrTokens(tokens), layers, names.map((name) => cache.get(name)));
  const html = attentionViewerHtml(data, { title: options.title });
  const summary = `attention viewer: ${data.tokens.length} tokens, layers ${layers.join(", ")}, ${data.nHeads} heads`;
  return {
    html,
    data,
    [JUPYTER_DISPLAY]: () => ({ "text/html": html, "text/plain": summary }),
  };
}

function promptTokens(prompt: string | readonly number[], prependBos: boolean): number[] {
  if (typeof prompt === "string") return toTokens(prompt, { prependBos });
  if (!Array.isArray(prompt) || prompt.some((token) => Array.isArray(token))) {
    throw new InputError("attentionViewer: the prompt must be a string or one row of token ids (not a batch)", "bad_tokens");
  }
  return [...prompt];
}

function shownLayers(layers: readonly number[] | undefined, nLayers: number): number[] {
  if (layers === undefined) return Array.from({ length: nLayers }, (_, layer) => layer);
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new InputError("attentionViewer: layers must be a non-empty list of layer indices", "bad_layer");
  }
  for (const layer of layers) {
    if (!Number.isInteger(layer) || layer < 0 || layer >= nLayers) {
      throw new InputError(`attentionViewer: layer ${String(layer)} is outside the model's layers 0…${nLayers - 1}`, "bad_layer");
    }
  }
  if (new Set(layers).size !== layers.length) {
    throw new InputError(`attentionViewer: layers [${layers.join(", ")}] name a layer twice`, "bad_layer");
  }
  return [...layers].sort((a, b) => a - b);
}
