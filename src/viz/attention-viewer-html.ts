/**
 * The attention viewer as one self-contained HTML fragment: a scoped style, the static markup (title,
 * head grid, heatmap panel, token strip, all escaped here so the tokens read even without script),
 * the data as JSON and the inline script that draws and wires it. No network, no external files.
 */

import { ATTENTION_DECIMALS, type AttentionViewerData } from "./attention-viewer-data.ts";
import { ATTENTION_VIEWER_SCRIPT } from "./attention-viewer-script.ts";
import { attentionViewerStyle } from "./attention-viewer-style.ts";
import { makeColorScale } from "./color-scales.ts";
import { escapeXml } from "./escape-xml.ts";

/** Colours for weights 0, 0.01, …, 1: the positive half of the diverging scale, white to red. */
const PALETTE_STEPS = 100;
const ATTENTION_PALETTE: readonly string[] = (() => {
  const scale = makeColorScale("diverging", [-1, 1]);
  return Array.from({ length: PALETTE_STEPS + 1 }, (_, i) => scale(i / PALETTE_STEPS));
})();

const HEATMAP_TITLE_SUFFIX = " attention pattern (rows: query, columns: key)";

/** What the inline script reads: the data and how to draw it. */
export interface AttentionViewerPayload {
  readonly data: AttentionViewerData;
  readonly palette: readonly string[];
  readonly decimals: number;
  /** Follows the head's label in the heatmap's title. */
  readonly titleSuffix: string;
}

export function headLabel(layer: number, head: number): string {
  return `L${layer}H${head}`;
}

/** A token as the page shows it: line breaks and tabs made visible, the rest verbatim. */
export function displayToken(token: string): string {
  return token.replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t");
}

/**
 * JSON that can sit inside a `<script>` element: `<`, `>` and `&` become \u escapes (so no token can
 * close the element or open a comment), as do U+2028/U+2029.
 */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** FNV-1a of the JSON, so the same data gets the same element id run after run. */
function contentHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}

let viewersBuilt = 0;

export interface AttentionViewerHtmlOptions {
  /** The widget's title; default "Attention patterns". */
  readonly title?: string;
}

export function attentionViewerHtml(data: AttentionViewerData, options: AttentionViewerHtmlOptions = {}): string {
  const payload: AttentionViewerPayload = {
    data, palette: ATTENTION_PALETTE, decimals: ATTENTION_DECIMALS, titleSuffix: HEATMAP_TITLE_SUFFIX,
  };
  const json = scriptSafeJson(payload);
  // The counter keeps two viewers of the same prompt on one notebook page apart.
  const rootId = `gpt2-lens-attention-${contentHash(json)}-${viewersBuilt++}`;
  const first = data.layers.length ? headLabel(data.layers[0]!, 0) : "";
  const layersText = data.layers.length === 1 ? `layer ${data.layers[0]}` : `layers ${data.layers[0]}…${data.layers[data.layers.length - 1]}`;
  return [
    `<div class="gpt2-lens-attention" id="${rootId}">`,
    `<style>${attentionViewerStyle(rootId)}</style>`,
    `<div class="gl-title">${escapeXml(options.title ?? "Attention patterns")}</div>`,
    `<div class="gl-hint">${data.tokens.length} tokens, ${layersText}, ${data.nHeads} heads. Click a head; hover a token to see where it attends to (upper numbers) and where it is attended from (lower numbers).</div>`,
    tokenStrip(data.tokens),
    `<div class="gl-focus"></div>`,
    `<div class="gl-body">`,
    headGrid(data),
    `<div class="gl-heatmap-panel"><div class="gl-heatmap-title">${escapeXml(heatmapTitle(first))}</div>`,
    `<canvas class="gl-heatmap" width="1" height="1" aria-label="attention pattern heatmap"></canvas>`,
    `<div class="gl-cell-info"></div></div>`,
    `</div>`,
    // Removed by the script; stays where a notebook front end or viewer does not run scripts.
    `<div class="gl-hint gl-needs-script">The heatmaps, head thumbnails and hovering need JavaScript, which this viewer did not run.</div>`,
    `<script type="application/json" class="gl-data">${json}</script>`,
    `<script>${ATTENTION_VIEWER_SCRIPT}(${JSON.stringify(rootId)});</script>`,
    `</div>`,
  ].join("\n");
}

/** The heatmap panel's title for a head (the script writes the same on each click). */
export function heatmapTitle(label: string): string {
  return `${label}${HEATMAP_TITLE_SUFFIX}`;
}

function headGrid(data: AttentionViewerData): string {
  const header = [`<span></span>`, ...Array.from({ length: data.nHeads }, (_, h) => `<span class="gl-head-label">H${h}</span>`)];
  const rows = data.layers.map((layer, index) => {
    const buttons = Array.from({ length: data.nHeads }, (_, head) => {
      const label = headLabel(layer, head);
      const pressed = index === 0 && head === 0;
      return `<button type="button" class="gl-head" data-layer="${layer}" data-head="${head}" data-label="${label}" title="${label}" aria-pressed="${pressed}"><canvas width="1" height="1"></canvas></button>`;
    });
    return [`<span class="gl-layer-label">L${layer}</span>`, ...buttons].join("");
  });
  const columns = `grid-template-columns:auto repeat(${data.nHeads},auto)`;
  return `<div class="gl-heads" style="${columns}" role="group" aria-label="heads">${[header.join(""), ...rows].join("")}</div>`;
}

function tokenStrip(tokens: readonly string[]): string {
  const spans = tokens.map(
    (token, pos) =>
      `<span class="gl-token" data-pos="${pos}" title="position ${pos}"><span class="gl-to"></span><span class="gl-token-text">${escapeXml(displayToken(token))}</span><span class="gl-from"></span></span>`,
  );
  return `<div class="gl-tokens">${spans.join("")}</div>`;
}
