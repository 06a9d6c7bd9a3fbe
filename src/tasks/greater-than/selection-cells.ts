import { componentLabel, componentName, type NodeAt } from "../../patching/nodes.ts";
import { pathPatchRows, type RowSoftmaxMetric } from "../../patching/path-patch-rows.ts";
import type {
  ContinuationNode, PathPatchingContext, PathPatchingGrid, PathPatchingSweepOptions, ReceiverInput,
} from "../../patching/path-patching.ts";
import { type BootstrapOptions, type MeanSummary, summarizeMean } from "../statistics.ts";
import type { SelectedHead } from "./circuit-selection.ts";

/** One sweep of the circuit selection and the cells the selection rule picked in it. */
export interface SelectionSweep {
  /** The grid's name in the report: "logits", "blocks.3.mlp", "circuit heads' kv". */
  readonly grid: string;
  readonly senderPosition: number;
  /** "END" or "YY", for the report. */
  readonly senderPositionName: string;
  readonly receivers: "logits" | readonly ReceiverInput[];
  readonly continuation: readonly ContinuationNode[];
  /** The grid's mean values, [layer][head], head = n_heads for the MLP. */
  readonly values: readonly (readonly (number | null)[])[];
  readonly heads: readonly SelectedHead[];
  readonly mlps: readonly number[];
}

export interface GreaterThanSweeps {
  readonly logits: PathPatchingGrid;
  /** The MLPs the logits grid selected (its MLP cells used). */
  readonly circuitMlpLayers: readonly number[];
  /** The receivers of the MLP sweeps, their options and grids, in the same order. */
  readonly mlpLayers: readonly number[];
  readonly mlpSweeps: readonly PathPatchingSweepOptions[];
  readonly mlpGrids: readonly PathPatchingGrid[];
  readonly end: number;
  readonly yy: number;
  /** The head selection rule applied to one grid. */
  readonly select: (grid: PathPatchingGrid) => SelectedHead[];
  /** The sweep senders at YY → the circuit heads' keys and values, and the senders it selected; null without circuit heads. */
  readonly kv: {
    readonly receivers: readonly ReceiverInput[];
    readonly continuation: readonly NodeAt[];
    readonly values: readonly (readonly (number | null)[])[];
    readonly senders: readonly NodeAt[];
  } | null;
}

/** The greater-than selection's sweeps with the cells it picked: heads and MLPs into the logits, heads into each MLP, senders at YY into the heads' keys and values. */
export function greaterThanSelectionSweeps(input: GreaterThanSweeps): SelectionSweep[] {
  const { end, kv } = input;
  return [
    {
      grid: "logits", senderPosition: end, senderPositionName: "END", receivers: "logits", continuation: [],
      values: input.logits.grid, heads: input.select(input.logits), mlps: input.circuitMlpLayers,
    },
    ...input.mlpSweeps.map((sweep, i): SelectionSweep => ({
      grid: componentName({ kind: "mlp", layer: input.mlpLayers[i]! }), senderPosition: end, senderPositionName: "END",
      receivers: sweep.receivers, continuation: sweep.continuation ?? [], values: input.mlpGrids[i]!.grid, heads: input.select(input.mlpGrids[i]!), mlps: [],
    })),
    ...(kv
      ? [{
        grid: "circuit heads' kv", senderPosition: input.yy, senderPositionName: "YY", receivers: kv.receivers, continuation: kv.continuation,
        values: kv.values,
        heads: kv.senders.flatMap((n) => (n.kind === "head" ? [{ layer: n.layer, head: n.head }] : [])),
        mlps: kv.senders.flatMap((n) => (n.kind === "mlp" ? [n.layer] : [])),
      }]
      : []),
  ];
}

/** A path-patching cell the circuit selection used, with its per-prompt spread. */
export interface SelectionCellStatistics {
  readonly grid: string;
  readonly sender: string;
  readonly sender_position: string;
  /** The sweep's value (the mean change of PD). */
  readonly grid_value: number;
  /** The per-prompt change of PD when only this path is corrupted: mean, sd and bootstrap interval. */
  readonly change: MeanSummary;
}

/**
 * Per-prompt path patching of every cell the selection rule picked (the sweeps themselves keep only
 * means): one extra patched run per cell.
 */
export function selectionCellStatistics(
  context: PathPatchingContext, sweeps: readonly SelectionSweep[], metric: RowSoftmaxMetric, bootstrap: BootstrapOptions,
  onStep: (done: number, total: number) => void = () => {},
): SelectionCellStatistics[] {
  const nHeads = context.model.config.nHeads;
  const cells = sweeps.flatMap((sweep) => [
    ...sweep.heads.map((h) => ({ sweep, sender: { kind: "head", layer: h.layer, head: h.head, pos: sweep.senderPosition } as NodeAt, column: h.head })),
    ...sweep.mlps.map((layer) => ({ sweep, sender: { kind: "mlp", layer, pos: sweep.senderPosition } as NodeAt, column: nHeads })),
  ]);
  return cells.map(({ sweep, sender, column }, i) => {
    onStep(i, cells.length);
    const rows = pathPatchRows(context, { sender, receivers: sweep.receivers, continuation: sweep.continuation }, metric);
    const label = componentLabel(sender);
    return {
      grid: sweep.grid,
      sender: label,
      sender_position: sweep.senderPositionName,
      grid_value: sweep.values[sender.kind === "embed" ? 0 : sender.layer]![column] ?? Number.NaN,
      change: summarizeMean(rows, bootstrap, `path ${label} → ${sweep.grid}`),
    };
  });
}
