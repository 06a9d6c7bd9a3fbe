/**
 * circuitDiagram(): a circuit's components as boxes in rows (layers, bottom to top) and columns (token
 * positions), and path effects as arrows between them: blue where the path supports the behaviour
 * (value < 0: corrupting it lowers the metric), red where it opposes it, width ∝ |value|, each with a
 * tooltip and the larger ones with their value printed.
 */
import { renderChartFrame } from "./chart-frame.ts";
import { figureInputError, requireNonEmptyArray, requireString } from "./input-checks.ts";
import { formatTooltipValue, formatSvgNumber, isDrawableNumber } from "./number-format.ts";
import { renderSwatchLegend } from "./swatch-legend.ts";
import { svgElement, svgText, svgTitle } from "./svg-markup.ts";
import { estimateTextWidth } from "./text-metrics.ts";
import { THEME } from "./theme.ts";

export type DiagramNodeKind = "head" | "mlp" | "io";

export interface DiagramNode {
  readonly id: string;
  readonly label: string;
  readonly kind: DiagramNodeKind;
  /** Index into columns. */
  readonly column: number;
  /** Index into rows (0 = bottom). */
  readonly row: number;
}

export interface DiagramEdge {
  readonly from: string;
  readonly to: string;
  readonly value: number;
  readonly tooltip: string;
  /** Print the value beside the arrow (default: when |value| ≥ 10 % of the largest). */
  readonly showValue?: boolean;
}

export interface CircuitDiagramInput {
  readonly title: string;
  /** Column headings, left to right (e.g. token positions). */
  readonly columns: readonly string[];
  /** Row labels, bottom to top. */
  readonly rows: readonly string[];
  readonly nodes: readonly DiagramNode[];
  readonly edges: readonly DiagramEdge[];
  /** What an edge's value is, e.g. "Δ PD". */
  readonly valueLabel: string;
}

const NODE_HEIGHT = 22;
const ROW_HEIGHT = 48;
const NODE_GAP = 14;
const COLUMN_GAP = 60;
const MIN_NODE_WIDTH = 54;
const MAX_STROKE = 7;
const LABEL_FRACTION = 0.1;
const SUPPORTS = "#2166ac";
const OPPOSES = "#b2182b";
const NODE_FILL: Record<DiagramNodeKind, string> = { head: "#fdd9a6", mlp: "#c7e9c0", io: "#e0e0e0" };
const FIGURE = "circuitDiagram";

interface Placed { readonly x: number; readonly y: number; readonly width: number }

export function circuitDiagram(input: CircuitDiagramInput): string {
  validate(input);
  const fontSize = THEME.tickFontSize;
  const nodeWidth = Math.max(MIN_NODE_WIDTH, ...input.nodes.map((n) => Math.ceil(estimateTextWidth(n.label, fontSize) + 14)));
  const perCell = new Map<string, DiagramNode[]>();
  for (const node of input.nodes) {
    const key = `${node.column}:${node.row}`;
    perCell.set(key, [...(perCell.get(key) ?? []), node]);
  }
  const widest = input.columns.map((_, c) =>
    Math.max(1, ...input.rows.map((_, r) => perCell.get(`${c}:${r}`)?.length ?? 0)),
  );
  const columnWidths = widest.map((count, c) =>
    Math.max(count * nodeWidth + (count - 1) * NODE_GAP, estimateTextWidth(input.columns[c]!, THEME.axisLabelFontSize)),
  );
  const rowLabelWidth = Math.max(...input.rows.map((label) => estimateTextWidth(label, fontSize))) + 12;
  const headingHeight = THEME.axisLabelFontSize + 10;
  const columnLeft = columnWidths.map((_, c) => rowLabelWidth + columnWidths.slice(0, c).reduce((a, b) => a + b + COLUMN_GAP, 0));
  const plotWidth = columnLeft[columnLeft.length - 1]! + columnWidths[columnWidths.length - 1]!;
  const plotHeight = headingHeight + input.rows.length * ROW_HEIGHT;
  const rowCentre = (row: number) => headingHeight + (input.rows.length - 1 - row + 0.5) * ROW_HEIGHT;

  const placed = new Map<string, Placed>();
  for (const [key, nodes] of perCell) {
    const [c, r] = key.split(":").map(Number) as [number, number];
    const span = nodes.length * nodeWidth + (nodes.length - 1) * NODE_GAP;
    const left = columnLeft[c]! + (columnWidths[c]! - span) / 2;
    nodes.forEach((node, i) => placed.set(node.id, { x: left + i * (nodeWidth + NODE_GAP), y: rowCentre(r) - NODE_HEIGHT / 2, width: nodeWidth }));
  }

  const largest = Math.max(0, ...input.edges.map((e) => Math.abs(e.value)));
  const edgeMarkup: string[] = [];
  const valueMarkup: string[] = [];
  const labelFont = THEME.legendFontSize - 1;
  const taken: Box[] = placedBoxes([...placed.values()]);
  for (const edge of [...input.edges].sort((a, b) => Math.abs(a.value) - Math.abs(b.value))) {
    const from = placed.get(edge.from)!;
    const to = placed.get(edge.to)!;
    const [x1, y1] = [from.x + from.width / 2, from.y];
    const [x2, y2] = [to.x + to.width / 2, to.y + NODE_HEIGHT];
    const bend = Math.max(12, (y1 - y2) / 2);
    // An arrow that skips rows bows sideways, so it does not run behind the boxes between its ends.
    const skipped = Math.max(0, Math.round((y1 - y2 - NODE_HEIGHT) / ROW_HEIGHT) - 1);
    const bow = Math.abs(x2 - x1) < nodeWidth ? skipped * 0.6 * nodeWidth : 0;
    const c1: [number, number] = [x1 + bow, y1 - bend];
    const c2: [number, number] = [x2 + bow, y2 + bend];
    const colour = edge.value < 0 ? SUPPORTS : OPPOSES;
    const width = largest > 0 ? 1 + (MAX_STROKE - 1) * (Math.abs(edge.value) / largest) : 1;
    const d = `M${point([x1, y1])}C${point(c1)} ${point(c2)} ${point([x2, y2])}`;
    edgeMarkup.push(
      svgElement(
        "path",
        { d, fill: "none", stroke: colour, "stroke-width": width, "stroke-opacity": 0.75, "marker-end": `url(#arrow-${edge.value < 0 ? "s" : "o"})` },
        svgTitle(`${edge.tooltip}: ${input.valueLabel} ${formatTooltipValue(edge.value)}`),
      ),
    );
    if (edge.showValue ?? (largest > 0 && Math.abs(edge.value) >= LABEL_FRACTION * largest)) {
      // A free spot along the curve, just right of it; the midpoint when nothing else is there.
      const text = formatTooltipValue(edge.value);
      const textWidth = estimateTextWidth(text, labelFont);
      const spots = LABEL_POSITIONS.flatMap((t) => {
        const [x, y] = cubicPoint([x1, y1], c1, c2, [x2, y2], t);
        return [
          { x: x + 4, y: y - labelFont - 2, width: textWidth, height: labelFont },
          { x: x - 4 - textWidth, y: y - labelFont - 2, width: textWidth, height: labelFont },
        ];
      });
      const crowding = (b: Box) => taken.reduce((sum, other) => sum + overlapArea(b, other), 0);
      const box = spots.reduce((best, b) => (crowding(b) < crowding(best) ? b : best));
      taken.push(box);
      valueMarkup.push(
        svgText(
          {
            x: box.x,
            y: box.y + labelFont * 0.85,
            "font-size": labelFont,
            fill: colour,
            stroke: "#ffffff",
            "stroke-width": 3,
            "paint-order": "stroke",
          },
          text,
        ),
      );
    }
  }

  const nodeMarkup = input.nodes.map((node) => {
    const p = placed.get(node.id)!;
    return svgElement(
      "g",
      {},
      svgElement("rect", { x: p.x, y: p.y, width: p.width, height: NODE_HEIGHT, rx: 4, fill: NODE_FILL[node.kind], stroke: THEME.axisColor }),
      svgText({ x: p.x + p.width / 2, y: p.y + NODE_HEIGHT / 2 + fontSize * 0.35, "font-size": fontSize, "text-anchor": "middle" }, node.label),
    );
  });
  const headings = input.columns.map((heading, c) =>
    svgText(
      { x: columnLeft[c]! + columnWidths[c]! / 2, y: THEME.axisLabelFontSize, "font-size": THEME.axisLabelFontSize, "font-weight": "bold", "text-anchor": "middle" },
      heading,
    ),
  );
  const rowLabels = input.rows.map((label, r) =>
    svgText({ x: 0, y: rowCentre(r) + fontSize * 0.35, "font-size": fontSize, fill: THEME.mutedTextColor }, label),
  );
  const kinds = new Set(input.nodes.map((n) => n.kind));
  const legend = renderSwatchLegend([
    ...(kinds.has("head") ? [{ label: "attention head", color: NODE_FILL.head, shape: "box" as const }] : []),
    ...(kinds.has("mlp") ? [{ label: "MLP", color: NODE_FILL.mlp, shape: "box" as const }] : []),
    ...(kinds.has("io") ? [{ label: "embedding / logits", color: NODE_FILL.io, shape: "box" as const }] : []),
    { label: `supports (${input.valueLabel} < 0)`, color: SUPPORTS, shape: "line" },
    { label: `opposes (${input.valueLabel} > 0)`, color: OPPOSES, shape: "line" },
    { label: `width ∝ |${input.valueLabel}|, max ${formatTooltipValue(largest)}`, color: THEME.axisColor, shape: "line" },
  ]);
  // Printed values may reach past the last column; the legend goes right of them.
  const drawnWidth = Math.ceil(Math.max(plotWidth, ...taken.map((b) => b.x + b.width)));
  const legendX = drawnWidth + 24;

  return renderChartFrame({
    title: input.title,
    plotWidth: drawnWidth,
    plotHeight,
    margins: { top: 0, right: 24 + legend.width, bottom: 0, left: 0 },
    minimumContentHeight: headingHeight + legend.height,
    plotMarkup: [
      svgElement("defs", {}, arrowMarker("s", SUPPORTS), arrowMarker("o", OPPOSES)),
      ...headings,
      ...rowLabels,
      ...edgeMarkup,
      ...nodeMarkup,
      ...valueMarkup,
      svgElement("g", { transform: `translate(${formatSvgNumber(legendX)} ${headingHeight})` }, ...legend.markup),
    ],
  });
}

interface Box { readonly x: number; readonly y: number; readonly width: number; readonly height: number }

/** Where along an arrow (0 = its start) a value may go, tried in this order. */
const LABEL_POSITIONS = [0.5, 0.35, 0.65, 0.25, 0.75, 0.15, 0.85];

function placedBoxes(nodes: readonly Placed[]): Box[] {
  return nodes.map((p) => ({ x: p.x, y: p.y, width: p.width, height: NODE_HEIGHT }));
}

/** Boxes closer than this count as overlapping, so neighbouring values stay apart. */
const LABEL_MARGIN = 4;

/** How much two boxes, each grown by LABEL_MARGIN, overlap (0 when apart). */
function overlapArea(a: Box, b: Box): number {
  const m = LABEL_MARGIN;
  const w = Math.min(a.x + a.width, b.x + b.width) + m - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) + m - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

const point = ([x, y]: [number, number]) => `${formatSvgNumber(x)} ${formatSvgNumber(y)}`;

function cubicPoint(p0: [number, number], p1: [number, number], p2: [number, number], p3: [number, number], t: number): [number, number] {
  const u = 1 - t;
  const at = (i: 0 | 1) => u * u * u * p0[i] + 3 * u * u * t * p1[i] + 3 * u * t * t * p2[i] + t * t * t * p3[i];
  return [at(0), at(1)];
}

function arrowMarker(id: string, colour: string): string {
  return svgElement(
    "marker",
    { id: `arrow-${id}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 5, markerHeight: 5, orient: "auto-start-reverse", markerUnits: "userSpaceOnUse" },
    svgElement("path", { d: "M0 0L10 5L0 10Z", fill: colour }),
  );
}

function validate(input: CircuitDiagramInput): void {
  requireString(FIGURE, "title", input.title);
  requireString(FIGURE, "valueLabel", input.valueLabel);
  requireNonEmptyArray(FIGURE, "columns", input.columns);
  requireNonEmptyArray(FIGURE, "rows", input.rows);
  const ids = new Set<string>();
  input.nodes.forEach((node, i) => {
    if (ids.has(node.id)) throw figureInputError(`${FIGURE}: nodes[${i}].id repeats ${JSON.stringify(node.id)}`);
    ids.add(node.id);
    if (!Number.isInteger(node.column) || node.column < 0 || node.column >= input.columns.length) {
      throw figureInputError(`${FIGURE}: nodes[${i}].column = ${node.column} is not a column index (0 to ${input.columns.length - 1})`);
    }
    if (!Number.isInteger(node.row) || node.row < 0 || node.row >= input.rows.length) {
      throw figureInputError(`${FIGURE}: nodes[${i}].row = ${node.row} is not a row index (0 to ${input.rows.length - 1})`);
    }
  });
  input.edges.forEach((edge, i) => {
    for (const end of ["from", "to"] as const) {
      if (!ids.has(edge[end])) throw figureInputError(`${FIGURE}: edges[${i}].${end} ${JSON.stringify(edge[end])} is not a node id`);
    }
    if (!isDrawableNumber(edge.value)) throw figureInputError(`${FIGURE}: edges[${i}].value must be a finite number; got ${String(edge.value)}`);
  });
}
