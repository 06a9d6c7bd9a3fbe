/**
 * renderReportHtml(): one HTML page with a title, intro text, an optional summary and table of contents,
 * then sections of tables and figures (<figure><svg…/><figcaption/></figure>, numbered through the page).
 * Figures are inlined, except those over `linkFiguresLongerThan` characters: they are shown as
 * <img src="NAME.svg"> of the file written beside the page (cropped to the chart), so the page stays small (the file keeps
 * every cell's tooltip). Without that option the page is self-contained. Everything textual is escaped;
 * markup is XHTML-compatible (void elements self-closed) so it also parses as XML.
 */

import { escapeXml } from "./escape-xml.ts";
import type { Figure } from "./figure.ts";
import { figureInputError, requireMatchingLength, requireNonEmptyArray, requireString } from "./input-checks.ts";
import { formatExactValue } from "./number-format.ts";
import { svgRootSize } from "./svg-root.ts";

export interface ReportTable {
  readonly caption: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
}

/** A titled part of the page; it gets an entry in the table of contents. */
export interface ReportSection {
  /** HTML id (the contents link's target): letters, digits, "-" and "_". */
  readonly id: string;
  readonly heading: string;
  /** Plain text; blank lines separate paragraphs. */
  readonly intro?: string;
  /** Shown before the figures. */
  readonly tables?: readonly ReportTable[];
  readonly figures?: readonly Figure[];
}

export interface ReportInput {
  readonly title: string;
  /** Plain text; blank lines separate paragraphs. */
  readonly intro: string;
  /** Shown first, before the table of contents (which appears whenever there are sections). */
  readonly summary?: ReportSection;
  readonly sections?: readonly ReportSection[];
  /** Figures, then tables, outside any section, after the sections. */
  readonly figures?: readonly Figure[];
  readonly tables?: readonly ReportTable[];
  /** Figures whose SVG is longer than this are shown from their file (Figure.fileName) instead of inlined. */
  readonly linkFiguresLongerThan?: number;
}

const FUNCTION = "renderReportHtml";

const STYLESHEET = `
body { font-family: Helvetica, Arial, sans-serif; color: #222; max-width: 1100px; margin: 2rem auto; padding: 0 1.5rem; line-height: 1.5; }
h1 { font-size: 1.7rem; margin-bottom: 0.5rem; }
figure { margin: 2rem 0; }
figure svg { max-width: 100%; height: auto; display: block; }
.chart-crop { display: block; overflow: hidden; }
figure.note { border-left: 3px solid #bbb; padding: 0.2rem 0 0.2rem 0.8rem; }
.chart-crop img { width: 100%; height: auto; display: block; }
h2 { font-size: 1.3rem; margin-top: 2.5rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
nav ol { columns: 2; column-gap: 2rem; padding-left: 1.4rem; }
nav a, figcaption a { color: #1f5f99; }
#summary table { font-size: 1rem; }
figcaption { color: #444; font-size: 0.95rem; margin-top: 0.4rem; }
table { border-collapse: collapse; margin: 1.5rem 0; font-size: 0.95rem; }
caption { text-align: left; font-weight: bold; margin-bottom: 0.4rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.8rem; text-align: left; overflow-wrap: anywhere; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
thead th { border-bottom: 2px solid #999; }
`;

/** Render the full index.html page as a string. */
export function renderReportHtml(input: ReportInput): string {
  validateReportInput(input);
  const sections = input.sections ?? [];
  let figuresSoFar = 0;
  const figureNumber = () => ++figuresSoFar;
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
    ...(input.summary ? [renderSection(input.summary, figureNumber, input.linkFiguresLongerThan)] : []),
    ...(sections.length ? [renderContents(sections)] : []),
    ...sections.map((section) => renderSection(section, figureNumber, input.linkFiguresLongerThan)),
    ...(input.figures ?? []).map((figure) => renderFigure(figure, figureNumber(), input.linkFiguresLongerThan)),
    ...(input.tables ?? []).map(renderTable),
    "</body>",
    "</html>",
  ];
  return `${parts.join("\n")}\n`;
}

function renderContents(sections: readonly ReportSection[]): string {
  const items = sections.map((section) => `<li><a href="#${escapeXml(section.id)}">${escapeXml(section.heading)}</a></li>`);
  return ['<nav aria-label="Contents">', "<h2>Contents</h2>", "<ol>", ...items, "</ol>", "</nav>"].join("\n");
}

function renderSection(section: ReportSection, figureNumber: () => number, linkLongerThan: number | undefined): string {
  return [
    `<section id="${escapeXml(section.id)}">`,
    `<h2>${escapeXml(section.heading)}</h2>`,
    ...paragraphs(section.intro ?? ""),
    ...(section.tables ?? []).map(renderTable),
    ...(section.figures ?? []).map((figure) => renderFigure(figure, figureNumber(), linkLongerThan)),
    "</section>",
  ].join("\n");
}

function renderFigure(figure: Figure, number: number, linkLongerThan: number | undefined): string {
  if (figure.note) {
    return `<figure id="${escapeXml(figure.name)}" class="note"><figcaption><strong>Figure ${number}.</strong> ${escapeXml(figure.caption)}</figcaption></figure>`;
  }
  const linked = linkLongerThan !== undefined && figure.svg.length > linkLongerThan;
  const file = escapeXml(figure.fileName);
  const picture = linked ? linkedPicture(figure) : figure.svg;
  const hint = linked ? ` <a href="${file}">Open ${file}</a> for each value on hover.` : "";
  return [
    `<figure id="${escapeXml(figure.name)}">`,
    picture,
    `<figcaption><strong>Figure ${number}.</strong> ${escapeXml(figure.caption)}${hint}</figcaption>`,
    "</figure>",
  ].join("\n");
}

/**
 * The figure's file (Figure.standaloneSvg: the chart, then its caption) cropped to the chart by its box,
 * as the page prints the caption itself. The box keeps the chart's aspect ratio when the page is narrow.
 */
function linkedPicture(figure: Figure): string {
  const { width, height } = svgRootSize(figure.svg, `renderReportHtml: figure ${JSON.stringify(figure.name)}`);
  const { height: fileHeight } = svgRootSize(figure.standaloneSvg, `renderReportHtml: figure ${JSON.stringify(figure.name)}`);
  const file = escapeXml(figure.fileName);
  const alt = escapeXml(`Figure: ${figure.caption}`);
  const box = `max-width: ${width}px; aspect-ratio: ${width} / ${height}`;
  return `<a class="chart-crop" href="${file}" style="${box}"><img src="${file}" width="${width}" height="${fileHeight}" alt="${alt}" /></a>`;
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

const SECTION_ID = /^[A-Za-z][A-Za-z0-9_-]*$/;

function validateReportInput(input: ReportInput): void {
  requireString(FUNCTION, "title", input.title);
  requireString(FUNCTION, "intro", input.intro);
  if (input.figures !== undefined && !Array.isArray(input.figures)) throw figureInputError(`${FUNCTION}: figures must be an array of Figure`);
  if (input.sections !== undefined && !Array.isArray(input.sections)) throw figureInputError(`${FUNCTION}: sections must be an array`);
  const ids = new Set<string>();
  const names = new Set<string>();
  const parts: [string, ReportSection][] = [
    ...(input.summary ? [["summary", input.summary] as [string, ReportSection]] : []),
    ...(input.sections ?? []).map((section, i): [string, ReportSection] => [`sections[${i}]`, section]),
    ["", { id: "", heading: "", figures: input.figures ?? [], tables: input.tables ?? [] }],
  ];
  for (const [where, section] of parts) {
    const prefix = where === "" ? "" : `${where}.`;
    if (where !== "") {
      requireString(FUNCTION, `${where}.heading`, section.heading);
      if (typeof section.id !== "string" || !SECTION_ID.test(section.id)) {
        throw figureInputError(`${FUNCTION}: ${where}.id ${JSON.stringify(section.id)} must start with a letter and contain only letters, digits, "_" or "-"`);
      }
      if (ids.has(section.id)) throw figureInputError(`${FUNCTION}: ${where}.id repeats ${JSON.stringify(section.id)}; ids must be unique`);
      ids.add(section.id);
      if (section.intro !== undefined) requireString(FUNCTION, `${where}.intro`, section.intro);
    }
    (section.figures ?? []).forEach((figure, i) => {
      if (typeof figure !== "object" || figure === null || typeof figure.svg !== "string") {
        throw figureInputError(`${FUNCTION}: ${prefix}figures[${i}] is not a Figure`);
      }
      if (names.has(figure.name)) {
        throw figureInputError(`${FUNCTION}: ${prefix}figures[${i}] repeats the name ${JSON.stringify(figure.name)}; names must be unique`);
      }
      names.add(figure.name);
    });
    (section.tables ?? []).forEach((table, t) => validateTable(table, `${prefix}tables[${t}]`));
  }
  for (const name of names) {
    if (ids.has(name)) throw figureInputError(`${FUNCTION}: the figure name ${JSON.stringify(name)} is also a section id; ids must be unique`);
  }
}

function validateTable(table: ReportTable, where: string): void {
  requireString(FUNCTION, `${where}.caption`, table.caption);
  requireNonEmptyArray(FUNCTION, `${where}.headers`, table.headers);
  table.headers.forEach((header, h) => requireString(FUNCTION, `${where}.headers[${h}]`, header));
  if (!Array.isArray(table.rows)) throw figureInputError(`${FUNCTION}: ${where}.rows must be an array`);
  table.rows.forEach((row, r) => {
    requireMatchingLength(FUNCTION, `${where}.rows[${r}]`, row, `${where}.headers`, table.headers.length);
    row.forEach((cell, c) => {
      if (typeof cell !== "string" && typeof cell !== "number") {
        throw figureInputError(`${FUNCTION}: ${where}.rows[${r}][${c}] must be a string or number`);
      }
    });
  });
}
