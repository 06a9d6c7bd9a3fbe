/**
 * renderReportHtml(): one self-contained HTML page (no external resources) with a title, intro text,
 * figures inlined as <figure><svg…/><figcaption/></figure>, and optional tables. Everything textual is
 * escaped; markup is XHTML-compatible (void elements self-closed) so it also parses as XML.
 */

import { escapeXml } from "./escape-xml.ts";
import type { Figure } from "./figure.ts";
import { figureInputError, requireMatchingLength, requireNonEmptyArray, requireString } from "./input-checks.ts";
import { formatExactValue } from "./number-format.ts";

export interface ReportTable {
  readonly caption: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
}

export interface ReportInput {
  readonly title: string;
  /** Plain text; blank lines separate paragraphs. */
  readonly intro: string;
  readonly figures: readonly Figure[];
  readonly tables?: readonly ReportTable[];
}

const FUNCTION = "renderReportHtml";

const STYLESHEET = `
body { font-family: Helvetica, Arial, sans-serif; color: #222; max-width: 1100px; margin: 2rem auto; padding: 0 1.5rem; line-height: 1.5; }
h1 { font-size: 1.7rem; margin-bottom: 0.5rem; }
figure { margin: 2rem 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #444; font-size: 0.95rem; margin-top: 0.4rem; }
table { border-collapse: collapse; margin: 1.5rem 0; font-size: 0.95rem; }
caption { text-align: left; font-weight: bold; margin-bottom: 0.4rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.8rem; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
thead th { border-bottom: 2px solid #999; }
`;

/** Render the full index.html page as a string. */
export function renderReportHtml(input: ReportInput): string {
  validateReportInput(input);
  const parts = [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8" />',
    '<meta name="viewport" content="width=device-width, initial-scale=1" />',
    `<title>${escapeXml(input.title)}</title>`,
    `<style>${STYLESHEET}</style>`,
    "</head>",
    "<body>",
    `<h1>${escapeXml(input.title)}</h1>`,
    ...paragraphs(input.intro),
    ...input.figures.map(renderFigure),
    ...(input.tables ?? []).map(renderTable),
    "</body>",
    "</html>",
  ];
  return `${parts.join("\n")}\n`;
}

function renderFigure(figure: Figure, index: number): string {
  return [
    `<figure id="${escapeXml(figure.name)}">`,
    figure.svg,
    `<figcaption><strong>Figure ${index + 1}.</strong> ${escapeXml(figure.caption)}</figcaption>`,
    "</figure>",
  ].join("\n");
}

function renderTable(table: ReportTable): string {
  const head = `<tr>${table.headers.map((h) => `<th scope="col">${escapeXml(h)}</th>`).join("")}</tr>`;
  const body = table.rows.map((row) => `<tr>${row.map(renderTableCell).join("")}</tr>`);
  return [
    "<table>",
    `<caption>${escapeXml(table.caption)}</caption>`,
    `<thead>${head}</thead>`,
    `<tbody>\n${body.join("\n")}\n</tbody>`,
    "</table>",
  ].join("\n");
}

function renderTableCell(cell: string | number): string {
  if (typeof cell === "number") return `<td class="number">${escapeXml(formatExactValue(cell))}</td>`;
  return `<td>${escapeXml(cell)}</td>`;
}

function paragraphs(text: string): string[] {
  return text
    .split(/\r?\n\s*\r?\n/)
    .map((paragraph) => paragraph.trim())
    .filter((paragraph) => paragraph !== "")
    .map((paragraph) => `<p>${escapeXml(paragraph)}</p>`);
}

function validateReportInput(input: ReportInput): void {
  requireString(FUNCTION, "title", input.title);
  requireString(FUNCTION, "intro", input.intro);
  if (!Array.isArray(input.figures)) throw figureInputError(`${FUNCTION}: figures must be an array of Figure`);
  const seen = new Set<string>();
  input.figures.forEach((figure, i) => {
    if (typeof figure !== "object" || figure === null || typeof figure.svg !== "string") {
      throw figureInputError(`${FUNCTION}: figures[${i}] is not a Figure`);
    }
    if (seen.has(figure.name)) {
      throw figureInputError(`${FUNCTION}: figures[${i}] repeats the name ${JSON.stringify(figure.name)}; names must be unique`);
    }
    seen.add(figure.name);
  });
  (input.tables ?? []).forEach((table, t) => {
    requireString(FUNCTION, `tables[${t}].caption`, table.caption);
    requireNonEmptyArray(FUNCTION, `tables[${t}].headers`, table.headers);
    table.headers.forEach((header, h) => requireString(FUNCTION, `tables[${t}].headers[${h}]`, header));
    if (!Array.isArray(table.rows)) throw figureInputError(`${FUNCTION}: tables[${t}].rows must be an array`);
    table.rows.forEach((row, r) => {
      requireMatchingLength(FUNCTION, `tables[${t}].rows[${r}]`, row, `tables[${t}].headers`, table.headers.length);
      row.forEach((cell, c) => {
        if (typeof cell !== "string" && typeof cell !== "number") {
          throw figureInputError(`${FUNCTION}: tables[${t}].rows[${r}][${c}] must be a string or number`);
        }
      });
    });
  });
}
