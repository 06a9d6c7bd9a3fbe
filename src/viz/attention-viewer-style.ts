/** The attention viewer's CSS, scoped to one widget's root id so several viewers share a page. */

import { THEME } from "./theme.ts";

export function attentionViewerStyle(rootId: string): string {
  const r = `#${rootId}`;
  return [
    `${r}{font-family:${THEME.fontFamily};color:${THEME.textColor};background:${THEME.background};font-size:13px;line-height:1.3;max-width:100%}`,
    `${r} .gl-title{font-size:${THEME.titleFontSize}px;font-weight:600;margin:4px 0 8px}`,
    `${r} .gl-hint{color:${THEME.mutedTextColor};font-size:12px;margin:2px 0 6px}`,
    `${r} .gl-body{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}`,
    `${r} .gl-heads{display:grid;gap:3px;align-items:center}`,
    `${r} .gl-layer-label,${r} .gl-head-label{font-size:11px;color:${THEME.mutedTextColor};text-align:center}`,
    `${r} .gl-head{padding:1px;margin:0;border:2px solid transparent;background:none;cursor:pointer;line-height:0}`,
    `${r} .gl-head canvas{width:36px;height:36px;image-rendering:pixelated;border:1px solid ${THEME.gridColor}}`,
    `${r} .gl-head[aria-pressed="true"]{border-color:${THEME.textColor}}`,
    `${r} .gl-head:hover{border-color:${THEME.axisColor}}`,
    `${r} .gl-heatmap-title{font-size:14px;font-weight:600;margin-bottom:4px}`,
    `${r} .gl-cell-info{min-height:1.3em;font-size:12px;color:${THEME.mutedTextColor};white-space:pre}`,
    `${r} .gl-tokens{display:flex;flex-wrap:wrap;gap:2px;margin:8px 0 2px}`,
    `${r} .gl-token{display:inline-flex;flex-direction:column;align-items:stretch;border:1px solid ${THEME.gridColor};cursor:default;min-width:2.2em}`,
    `${r} .gl-token.gl-focused{border-color:${THEME.textColor};box-shadow:0 0 0 1px ${THEME.textColor}}`,
    `${r} .gl-token-text{white-space:pre;padding:1px 3px;font-family:monospace}`,
    // Room for "0.000" while empty: filling the numbers in must not move tokens under the pointer.
    `${r} .gl-to,${r} .gl-from{font-size:10px;font-family:monospace;text-align:center;height:1.3em;line-height:1.3em;min-width:5.5ch;padding:0 2px;overflow:hidden}`,
    `${r} .gl-focus{min-height:1.3em;font-size:12px;margin:2px 0 10px}`,
  ].join("\n");
}
