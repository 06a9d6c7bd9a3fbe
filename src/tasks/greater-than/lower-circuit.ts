import { type Component, componentLabel, componentName, type NodeAt } from "../../patching/nodes.ts";
import {
  type ContinuationNode, pathPatch, pathPatchingSweep, type PathPatchingContext, type ReceiverInput,
} from "../../patching/path-patching.ts";
import { InputError } from "../../errors.ts";
import type { SelectedHead } from "./circuit-selection.ts";

/**
 * A cell of the k and v grids that was not computed: its sender's k+v effect is below
 * `LowerCircuitReport.kv_threshold` of the k+v grid's largest |effect|. Distinct from null (not upstream).
 */
export const NOT_COMPUTED = "not computed";
export type LowerCircuitCell = number | null | typeof NOT_COMPUTED;

/** One path-patching grid of the lower circuit, with the embedding's path beside it. */
export interface LowerCircuitGrid {
  readonly receivers: string[];
  readonly continuation: string[];
  /** The same path from the embedding at YY; null when the receivers read nothing from it. */
  readonly embed: number | null;
  /** grid[layer][head], head = n_heads for the MLP: mean change of PD; null where not upstream; NOT_COMPUTED (k and v grids) below the threshold. */
  readonly grid: LowerCircuitCell[][];
}

export interface LowerCircuitReport {
  /** Why a part is empty (e.g. the circuit heads sit in layer 0), or null. */
  readonly note: string | null;
  /**
   * The k and v grids are computed only for the senders whose k+v effect (head_input_patching's kv
   * grid) reaches this fraction of that grid's largest |effect|; the other upstream cells are
   * NOT_COMPUTED. 0 computes every cell.
   */
  readonly kv_threshold: number;
  /** Senders at YY → the circuit heads' keys at END (values clean), then the circuit MLPs. */
  readonly k: LowerCircuitGrid | null;
  /** Senders at YY → the circuit heads' values at END (keys clean), then the circuit MLPs. */
  readonly v: LowerCircuitGrid | null;
  /** Senders at YY → each lower-circuit MLP at YY, continuing through the later ones, the heads' keys and values and the circuit MLPs. */
  readonly mlps_at_yy: LowerCircuitGrid[];
  /** The lower circuit: the embedding at YY (when its k+v path matters) and the senders at YY the k+v grid selected. */
  readonly nodes: string[];
}

export interface LowerCircuitInput {
  readonly context: PathPatchingContext;
  readonly heads: readonly SelectedHead[];
  readonly circuitMlps: readonly NodeAt[];
  /** Senders at YY selected from the combined k+v grid (heads and MLPs). */
  readonly yySenders: readonly NodeAt[];
  /** The embedding's k+v path at YY (null without circuit heads). */
  readonly embedKv: number | null;
  /** The senders at YY → heads' keys and values grid (head_input_patching's kv): picks the k and v grids' senders. */
  readonly kvGrid: readonly (readonly (number | null)[])[];
  /** Fraction of the kv grid's largest |effect| a sender needs for its k and v cells to be computed (default KV_THRESHOLD). */
  readonly kvThreshold?: number;
  readonly yy: number;
  readonly end: number;
  readonly minEffect: number;
  readonly onStep?: (label: string) => void;
}

/** Default `kvThreshold`: a cell below a tenth of the grid's largest |effect| is hardly visible on its colour scale. */
export const KV_THRESHOLD = 0.1;

/**
 * The senders whose k+v cell reaches `threshold` × the grid's largest |effect| (every upstream
 * sender when the threshold is 0); grid[layer][n_heads] is the MLP.
 */
export function visibleSenders(kvGrid: readonly (readonly (number | null)[])[], threshold: number): Component[] {
  const nHeads = (kvGrid[0]?.length ?? 1) - 1;
  const largest = Math.max(0, ...kvGrid.flat().map((v) => (v === null ? 0 : Math.abs(v))));
  const senders: Component[] = [];
  kvGrid.forEach((row, layer) =>
    row.forEach((value, column) => {
      if (value === null || Math.abs(value) < threshold * largest) return;
      senders.push(column === nHeads ? { kind: "mlp", layer } : { kind: "head", layer, head: column });
    }),
  );
  return senders;
}

/** A `kvThreshold` option must be a fraction in [0, 1] (checked before any work). */
export function checkKvThreshold(kvThreshold: number | undefined): void {
  if (kvThreshold !== undefined && !(kvThreshold >= 0 && kvThreshold <= 1)) {
    throw new InputError(`kvThreshold ${kvThreshold} is not a fraction in [0, 1] of the k+v grid's largest |effect|`, "bad_option");
  }
}

/** The lower circuit nodes: the embedding at YY when its k+v path lowers PD by minEffect, then the selected senders at YY. */
export function lowerCircuitNodes(input: Pick<LowerCircuitInput, "yySenders" | "embedKv" | "yy" | "minEffect">): NodeAt[] {
  const embed: NodeAt[] = input.embedKv !== null && input.embedKv <= -input.minEffect ? [{ kind: "embed", pos: input.yy }] : [];
  return [...embed, ...input.yySenders];
}

/** The paper's lower-circuit steps: k and v grids apart, and the senders feeding each MLP of the lower circuit at YY. */
export function lowerCircuit(input: LowerCircuitInput): LowerCircuitReport {
  const { context, heads, circuitMlps, yy, end } = input;
  const step = input.onStep ?? (() => {});
  const nodes = lowerCircuitNodes(input);
  const kvThreshold = input.kvThreshold ?? KV_THRESHOLD;
  checkKvThreshold(kvThreshold);
  if (heads.length === 0) {
    return { note: "There are no circuit heads, so nothing at YY reaches the logits through their keys and values.", kv_threshold: kvThreshold, k: null, v: null, mlps_at_yy: [], nodes: [] };
  }
  const headReceivers = (channel: "k" | "v"): ReceiverInput[] =>
    heads.map((h) => ({ node: { kind: "head", layer: h.layer, head: h.head, pos: end }, channels: [channel] }));
  const grid = (receivers: ReceiverInput[], continuation: readonly ContinuationNode[], label: string, senders?: Component[]): LowerCircuitGrid => {
    step(label);
    const sweep = pathPatchingSweep(context, { senderPosition: yy, receivers, continuation, ...(senders ? { senders } : {}) });
    const embed = pathPatch(context, { sender: { kind: "embed", pos: yy }, receivers, continuation });
    return { receivers: receivers.map((r) => `${componentLabel(r.node)}.${r.channels.join("")}`), continuation: sweep.continuation, embed, grid: sweep.grid };
  };
  // The k and v grids split the k+v grid's cells: only its visible senders are computed again.
  const visible = visibleSenders(input.kvGrid, kvThreshold);
  const split = (channel: "k" | "v", word: string): LowerCircuitGrid => {
    const computed = grid(headReceivers(channel), circuitMlps, `senders at YY → circuit heads' ${word}`, visible);
    const cells = computed.grid.map((row, layer) =>
      row.map((value, column): LowerCircuitCell => (value === null && input.kvGrid[layer]?.[column] != null ? NOT_COMPUTED : value)),
    );
    return { ...computed, grid: cells };
  };
  const k = split("k", "keys");
  const v = split("v", "values");
  const yyMlps = input.yySenders
    .filter((n): n is Extract<NodeAt, { kind: "mlp" }> => n.kind === "mlp")
    .sort((a, b) => a.layer - b.layer);
  const headsKv: ContinuationNode[] = heads.map((h) => ({ node: { kind: "head", layer: h.layer, head: h.head, pos: end }, channels: ["k", "v"] }));
  const mlpsAtYy = yyMlps.map((receiver, i) =>
    grid([{ node: receiver, channels: ["in"] }], [...yyMlps.slice(i + 1), ...headsKv, ...circuitMlps], `senders at YY → ${componentName(receiver)} at YY`),
  );
  const highest = Math.max(...heads.map((h) => h.layer));
  const note = yyMlps.length > 0
    ? null
    : highest === 0
      ? "The circuit heads sit in layer 0: their keys and values at YY read only the embedding, so no head or MLP at YY is upstream of them " +
        "(the k and v grids are empty; the embedding's paths are given) and there is no MLP at YY to patch into."
      : "No MLP at YY lowers PD through the circuit heads' keys and values by 1 % of the baseline, so there is no MLP at YY to patch into.";
  return { note, kv_threshold: kvThreshold, k, v, mlps_at_yy: mlpsAtYy, nodes: nodes.map((n) => `${componentLabel(n)}@YY`) };
}
