import { componentLabel, type NodeAt } from "../../patching/nodes.ts";
import { pathPatchRows, type RowSoftmaxMetric } from "../../patching/path-patch-rows.ts";
import type { ContinuationNode, PathPatchingContext, ReceiverInput } from "../../patching/path-patching.ts";
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
