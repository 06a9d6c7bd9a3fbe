export const JUPYTER_DISPLAY_SYMBOL: unique symbol = Symbol.for("Jupyter.display") as never;

export interface HtmlGridInput {
  readonly caption: string;
  readonly rowLabels: readonly string[];
  readonly colLabels: readonly string[];
  /** rows × cols; null or non-finite cells are shown grey. */
  readonly values: readonly (readonly (number | null)[])[];
  /** Tooltip of a cell. */
  readonly cellTitle?: (row: number, col: number, value: number | null) => string;
}

/** Blue (−1) – white (0) – red (+1); NaN and null are grey. */
export function divergingColor(t: number | null): string {
  if (t === null || Number.isNaN(t)) return "#cccccc";
  if (!Number.isFinite(t)) return t > 0 ? "rgb(178,24,43)" : "rgb(33,102,172)";
  const s = Math.max(-1, Math.min(1, t));
  const [r, g, b] = s >= 0 ? [178, 24, 43] : [33, 102, 172];
  const a = Math.abs(s);
  const mix = (c: number) => Math.round(255 + (c - 255) * a);
  return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** A small self-contained coloured HTML table, for notebook display of patching grids. */
export function htmlGrid(input: HtmlGridInput): string {
  let maxAbs = 0;
  for (const row of input.values) for (const v of row) if (v !== null && Number.isFinite(v)) maxAbs = Math.max(maxAbs, Math.abs(v));
  const th = "padding:2px 6px;font-weight:600;text-align:center";
  let html = `<table style="border-collapse:collapse;font:11px monospace">`;
  html += `<caption style="caption-side:top;text-align:left;padding:2px">${escapeHtml(input.caption)}</caption>`;
  html += `<tr><th style="${th}"></th>${input.colLabels.map((c) => `<th style="${th}">${escapeHtml(c)}</th>`).join("")}</tr>`;
  input.values.forEach((row, r) => {
    html += `<tr><th style="${th};text-align:right">${escapeHtml(input.rowLabels[r] ?? "")}</th>`;
    row.forEach((v, c) => {
      const text = v === null ? "—" : Number.isFinite(v) ? v.toPrecision(3) : String(v);
      const title = input.cellTitle ? input.cellTitle(r, c, v) : `${input.rowLabels[r]} ${input.colLabels[c]}: ${v}`;
      const color = divergingColor(v === null ? null : maxAbs === 0 ? 0 : v / maxAbs);
      html += `<td title="${escapeHtml(title)}" style="padding:2px 6px;text-align:right;background:${color}">${escapeHtml(text)}</td>`;
    });
    html += "</tr>";
  });
  return `${html}</table>`;
}
