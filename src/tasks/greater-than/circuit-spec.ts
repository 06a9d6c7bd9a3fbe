import type { Gpt2Config } from "../../gpt2/config.ts";
import type { HeadComponent, MlpComponent } from "../../patching/circuit-evaluation.ts";
import { componentLabel, parseComponent } from "../../patching/nodes.ts";
import { PatchingError } from "../../patching/patching-error.ts";

/** The circuit Hanna et al. (2023) report for GPT-2 small, as `parseCircuitSpec` reads it. */
export const PAPER_GPT2_SMALL_CIRCUIT = "L5H1,L5H5,L6H1,L6H9,L7H10,L8H8,L8H11,L9H1,MLP8,MLP9,MLP10,MLP11";

/** Where a report's circuit comes from: the selection rule over path patching, --circuit, or the top edges of EAP / EAP-IG. */
export type CircuitSource = "found" | "given" | "eap" | "eap-ig";

/** A greater-than circuit: heads and MLPs at END (e.g. the paper's L5H1,…,MLP8,…,MLP11 for GPT-2 small). */
export interface CircuitSpec {
  readonly heads: readonly HeadComponent[];
  readonly mlps: readonly MlpComponent[];
  /** Heads and MLPs at YY that replace the senders the k+v grid selects (the lower circuit; API only, e.g. the paper's MLPs 0–3). */
  readonly yySenders?: readonly (HeadComponent | MlpComponent)[];
}

/**
 * Parses "L5H1,L5H5,MLP8" (labels as parseComponent reads them, comma-separated, spaces allowed),
 * checked against the model. An empty list, an empty entry, the embedding or a component named twice
 * is a PatchingError with code "bad_circuit"; an unknown or out-of-range label is "unknown_component".
 */
export function parseCircuitSpec(text: string, config: Gpt2Config): CircuitSpec {
  const labels = text.split(",").map((label) => label.trim());
  if (labels.every((label) => label === "")) {
    throw new PatchingError("bad_circuit", `circuit "${text}" names no component; expected e.g. "L5H1,L6H9,MLP8"`);
  }
  const heads: HeadComponent[] = [];
  const mlps: MlpComponent[] = [];
  const seen = new Set<string>();
  labels.forEach((label, i) => {
    if (label === "") throw new PatchingError("bad_circuit", `circuit "${text}": entry ${i + 1} is empty`);
    const component = parseComponent(label, config);
    if (component.kind === "embed") {
      throw new PatchingError("bad_circuit", `circuit "${text}": the embedding is not a circuit member at END; list heads (L<layer>H<head>) and MLPs (MLP<layer>)`);
    }
    const name = componentLabel(component);
    if (seen.has(name)) throw new PatchingError("bad_circuit", `circuit "${text}" names ${name} twice`);
    seen.add(name);
    if (component.kind === "head") heads.push(component);
    else mlps.push(component);
  });
  heads.sort((a, b) => a.layer - b.layer || a.head - b.head);
  mlps.sort((a, b) => a.layer - b.layer);
  return { heads, mlps };
}
