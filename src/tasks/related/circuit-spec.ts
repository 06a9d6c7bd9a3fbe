/**
 * A circuit for the related families, written position-free: "L0H0,L0H1,MLP0,MLP3,L0H3@YY". Members
 * sit at END unless marked "@YY"; each family places them at its own END and YY positions. This is
 * the form the greater-than report gives its circuit in (heads and MLPs at END, senders "…@YY").
 */
import type { Gpt2Config } from "../../gpt2/config.ts";
import { type Component, componentLabel, type NodeAt, parseComponent } from "../../patching/nodes.ts";
import { PatchingError } from "../../patching/patching-error.ts";

export interface CircuitMember {
  readonly component: Exclude<Component, { kind: "embed" }>;
  readonly at: "END" | "YY";
}

export function parseCircuitSpec(spec: string, config: Gpt2Config): CircuitMember[] {
  const parts = spec.split(/[\s,]+/).filter((part) => part !== "");
  if (parts.length === 0) throw new PatchingError("empty_circuit", "the circuit lists no heads or MLPs");
  return parts.map((part) => {
    const [label, at = "END", ...rest] = part.split("@");
    if (rest.length > 0 || (at !== "END" && at !== "YY")) {
      throw new PatchingError("bad_circuit", `circuit member "${part}": the position after "@" must be END or YY`);
    }
    const component = parseComponent(label!, config);
    if (component.kind === "embed") {
      throw new PatchingError("bad_circuit", `circuit member "${part}": the embedding is always part of a circuit; list heads and MLPs`);
    }
    return { component, at };
  });
}

export function circuitSpecText(members: readonly CircuitMember[]): string {
  return members.map((m) => `${componentLabel(m.component)}${m.at === "YY" ? "@YY" : ""}`).join(",");
}

/** The circuit's nodes in a prompt whose YY token is at `yy` and whose last token is at `end`. */
export function circuitNodes(members: readonly CircuitMember[], positions: { yy: number; end: number }): NodeAt[] {
  return members.map((m) => ({ ...m.component, pos: m.at === "YY" ? positions.yy : positions.end }));
}

/** The circuit of a greater-than report (`report.circuit`) as members. */
export function greaterThanCircuitMembers(
  circuit: { readonly heads: readonly string[]; readonly mlps: readonly string[]; readonly yy_senders: readonly string[] },
  config: Gpt2Config,
): CircuitMember[] {
  const spec = [...circuit.heads, ...circuit.mlps, ...circuit.yy_senders].join(",");
  return spec === "" ? [] : parseCircuitSpec(spec, config);
}
