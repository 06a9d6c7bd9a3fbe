/**
 * The greater-than circuit as a diagram: its heads and MLPs at END and its senders at YY by layer, the
 * embedding and the logits, joined by the path effects the report's sweeps measured (no new runs).
 */
import type { GreaterThanCircuitReport } from "../tasks/greater-than/pipeline.ts";
import { circuitDiagram, type DiagramEdge, type DiagramNode } from "./circuit-diagram.ts";
import { Figure } from "./figure.ts";
import { noteFigure } from "./note-figure.ts";

/** Edges weaker than this fraction of the model's |PD| are left out (the selection rule's own floor). */
export const DIAGRAM_EDGE_FLOOR = 0.01;

interface Part { readonly kind: "head" | "mlp"; readonly layer: number; readonly head: number; readonly label: string }

function parsePart(label: string): Part {
  const head = /^L(\d+)H(\d+)/.exec(label);
  if (head) return { kind: "head", layer: Number(head[1]), head: Number(head[2]), label: `L${head[1]}H${head[2]}` };
  const mlp = /^(?:MLP|blocks\.)(\d+)/.exec(label)!;
  return { kind: "mlp", layer: Number(mlp[1]), head: -1, label: `MLP${mlp[1]}` };
}

/** Sub-rows in forward order: the embedding, then each layer's attention and MLP, then the logits. */
const order = (part: Part | "embed" | "logits", nLayers: number): number =>
  part === "embed" ? 0 : part === "logits" ? 2 * nLayers + 1 : 2 * part.layer + (part.kind === "mlp" ? 2 : 1);

export function greaterThanCircuitDiagram(report: GreaterThanCircuitReport): Figure {
  const { n_layers: nLayers, n_heads: nHeads } = report.model;
  const floor = DIAGRAM_EDGE_FLOOR * Math.abs(report.baseline.prob_diff);
  const atEnd = [...report.circuit.heads, ...report.circuit.mlps].map(parsePart);
  const atYy = report.circuit.yy_senders.map(parsePart);
  if (atEnd.length + atYy.length === 0) {
    return noteFigure("circuit-diagram", "The circuit", `No circuit to draw: no head or MLP ${report.circuit.source === "given" ? "was given" : "passed the selection rule"}.`);
  }
  const heads = atEnd.filter((p) => p.kind === "head");
  const column = (part: Part) => (part.kind === "head" ? part.head : nHeads);
  const cell = (grid: readonly (readonly (number | string | null)[])[], part: Part): number | null => {
    const value = grid[part.layer]?.[column(part)];
    return typeof value === "number" ? value : null;
  };

  const endId = (p: Part) => `${p.label}@END`;
  const yyId = (p: Part) => `${p.label}@YY`;
  const edges: DiagramEdge[] = [];
  const add = (from: string, to: string, value: number | null | undefined, tooltip: string, showValue?: boolean) => {
    if (value === null || value === undefined || !(Math.abs(value) >= floor)) return;
    edges.push({ from, to, value, tooltip, ...(showValue === false ? { showValue } : {}) });
  };
  const [logits, ...mlpSweeps] = report.path_patching;
  for (const part of atEnd) add(endId(part), "logits", logits ? cell(logits.grid, part) : null, `${part.label} → logits (direct)`);
  for (const sweep of mlpSweeps) {
    const receiver = parsePart(sweep.receiver);
    if (!atEnd.some((p) => p.kind === "mlp" && p.layer === receiver.layer)) continue;
    for (const part of atEnd) add(endId(part), endId(receiver), cell(sweep.grid, part), `${part.label} → ${receiver.label}`);
  }
  /** A path into all circuit heads' queries (or keys and values) at once: one arrow to each later head, the value printed once. */
  const intoHeads = (from: string, fromOrder: number, value: number | null, what: string) => {
    heads.filter((h) => order(h, nLayers) > fromOrder).forEach((h, i) =>
      add(from, endId(h), value, `${from.replace(/@.*$/, "")} → the circuit heads' ${what} (all heads together)`, i === 0 ? undefined : false),
    );
  };
  const q = report.head_input_patching.find((h) => h.channel === "q");
  const kv = report.head_input_patching.find((h) => h.channel === "kv");
  if (q) {
    for (const part of atEnd) intoHeads(endId(part), order(part, nLayers), cell(q.grid, part), "queries");
    intoHeads("embed@END", 0, q.embed, "queries");
  }
  if (kv) {
    for (const part of atYy) intoHeads(yyId(part), order(part, nLayers), cell(kv.grid, part), "keys and values");
    intoHeads("embed@YY", 0, kv.embed, "keys and values");
  }
  for (const grid of report.lower_circuit.mlps_at_yy) {
    if (!/^(?:MLP|blocks\.)\d+/.test(grid.receivers[0] ?? "")) continue;
    const receiver = parsePart(grid.receivers[0]!);
    for (const part of atYy) add(yyId(part), yyId(receiver), cell(grid.grid, part), `${part.label} at YY → ${receiver.label} at YY`);
    add("embed@YY", yyId(receiver), grid.embed, `embedding at YY → ${receiver.label} at YY`);
  }

  const used = new Set(edges.flatMap((e) => [e.from, e.to]));
  const candidates: { id: string; label: string; kind: DiagramNode["kind"]; column: number; order: number }[] = [
    ...atYy.map((p) => ({ id: yyId(p), label: p.label, kind: p.kind, column: 0, order: order(p, nLayers) })),
    ...atEnd.map((p) => ({ id: endId(p), label: p.label, kind: p.kind, column: 1, order: order(p, nLayers) })),
    ...["embed@YY", "embed@END"].filter((id) => used.has(id)).map((id) => ({ id, label: "embed", kind: "io" as const, column: id.endsWith("YY") ? 0 : 1, order: 0 })),
    { id: "logits", label: "logits", kind: "io", column: 1, order: 2 * nLayers + 1 },
  ];
  const orders = [...new Set(candidates.map((c) => c.order))].sort((a, b) => a - b);
  const rowName = (o: number) => (o === 0 ? "embedding" : o === 2 * nLayers + 1 ? "unembedding" : `layer ${Math.floor((o - 1) / 2)} ${o % 2 ? "attn" : "MLP"}`);
  const nodes: DiagramNode[] = candidates.map((c) => ({ id: c.id, label: c.label, kind: c.kind, column: c.column, row: orders.indexOf(c.order) }));
  const members = atEnd.map((p) => p.label).join(", ") || "no components";
  return new Figure({
    name: "circuit-diagram",
    caption:
      `The ${report.circuit.source} circuit (${members} at END; ${atYy.map((p) => p.label).join(", ") || "no sender"} at YY), ` +
      "with each path's effect from the path-patching sweeps: the mean change of PD when the path carries its corrupted (XX01) value. " +
      "Blue arrows support greater-than (corrupting them lowers PD), red ones oppose it; width ∝ |Δ PD|. " +
      "Arrows into the heads carry one value for all circuit heads together (printed once). " +
      "Values of 10 % of the strongest path or more are printed; hover an arrow (in the SVG file) for any value. " +
      `Paths weaker than ${DIAGRAM_EDGE_FLOOR * 100} % of the model's PD (|Δ PD| < ${floor.toPrecision(2)}) are left out.`,
    svg: circuitDiagram({
      title: "The circuit: path effects between its components",
      columns: ["at YY (start year)", "at END (last token)"],
      rows: orders.map(rowName),
      nodes,
      edges,
      valueLabel: "Δ PD",
    }),
  });
}
