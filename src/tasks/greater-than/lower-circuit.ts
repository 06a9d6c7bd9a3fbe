import { componentLabel, componentName, type NodeAt } from "../../patching/nodes.ts";
import {
  type ContinuationNode, pathPatch, pathPatchingSweep, type PathPatchingContext, type ReceiverInput,
} from "../../patching/path-patching.ts";
import type { SelectedHead } from "./circuit-selection.ts";

/** One path-patching grid of the lower circuit, with the embedding's path beside it. */
export interface LowerCircuitGrid {
  readonly receivers: string[];
  readonly continuation: string[];
  /** The same path from the embedding at YY; null when the receivers read nothing from it. */
  readonly embed: number | null;
  /** grid[layer][head], head = n_heads for the MLP: mean change of PD; null where not upstream. */
  readonly grid: (number | null)[][];
}

export interface LowerCircuitReport {
  /** Why a part is empty (e.g. the circuit heads sit in layer 0), or null. */
  readonly note: string | null;
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
  readonly yy: number;
  readonly end: number;
  readonly minEffect: number;
  readonly onStep?: (label: string) => void;
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
  if (heads.length === 0) {
    return { note: "There are no circuit heads, so nothing at YY reaches the logits through their keys and values.", k: null, v: null, mlps_at_yy: [], nodes: [] };
  }
  const headReceivers = (channel: "k" | "v"): ReceiverInput[] =>
    heads.map((h) => ({ node: { kind: "head", layer: h.layer, head: h.head, pos: end }, channels: [channel] }));
  const grid = (receivers: ReceiverInput[], continuation: readonly ContinuationNode[], label: string): LowerCircuitGrid => {
    step(label);
    const sweep = pathPatchingSweep(context, { senderPosition: yy, receivers, continuation });
    const embed = pathPatch(context, { sender: { kind: "embed", pos: yy }, receivers, continuation });
    return { receivers: receivers.map((r) => `${componentLabel(r.node)}.${r.channels.join("")}`), continuation: sweep.continuation, embed, grid: sweep.grid };
  };
  const k = grid(headReceivers("k"), circuitMlps, "senders at YY → circuit heads' keys");
  const v = grid(headReceivers("v"), circuitMlps, "senders at YY → circuit heads' values");
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
  return { note, k, v, mlps_at_yy: mlpsAtYy, nodes: nodes.map((n) => `${componentLabel(n)}@YY`) };
}
