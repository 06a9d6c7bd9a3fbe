/** The related-tasks study: every family's prompts, evaluated on one model with one circuit. */
import type { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import { yearTokenIds } from "../greater-than/years.ts";
import { circuitSpecText, type CircuitMember } from "./circuit-spec.ts";
import { CIRCUIT_RECOVERS_AT_LEAST, evaluateFamily, MODEL_DOES_TASK_MARGIN, type RelatedFamilyResult } from "./evaluate-family.ts";
import { RELATED_FAMILIES, type RelatedFamily } from "./families.ts";
import { makeFamilyPrompts } from "./prompts.ts";

export type RelatedProgress = (stage: string, done: number, total: number) => void;

export interface RelatedTasksOptions {
  readonly model: HookedGpt2;
  /** Prompts requested per family (before exclusions). */
  readonly n: number;
  readonly seed: number;
  readonly circuit: readonly CircuitMember[];
  /** Where the circuit came from, for the report ("--circuit", "greater-than selection (N prompts, seed S)"). */
  readonly circuitSource: string;
  /** Default: RELATED_FAMILIES. */
  readonly families?: readonly RelatedFamily[];
  readonly onProgress?: RelatedProgress;
}

export interface RelatedTasksReport {
  readonly model: { readonly n_layers: number; readonly n_heads: number; readonly d_model: number; readonly d_mlp: number };
  readonly n: number;
  readonly seed: number;
  readonly circuit: { readonly members: string; readonly source: string };
  readonly rules: { readonly does_task: string; readonly circuit_does_task: string };
  readonly families: RelatedFamilyResult[];
}

export function runRelatedTasks(options: RelatedTasksOptions): RelatedTasksReport {
  const { model, n, seed } = options;
  const families = options.families ?? RELATED_FAMILIES;
  const yearTokens = yearTokenIds();
  const progress = options.onProgress ?? (() => {});
  const results = families.map((family) => {
    const stage = `family ${family.id} (${family.name})`;
    return evaluateFamily({
      model,
      prompts: makeFamilyPrompts(family, { n, seed }),
      circuit: options.circuit,
      yearTokens,
      onStep: (done, total) => progress(stage, done, total),
    });
  });
  const { nLayers, nHeads, dModel, dMlp } = model.config;
  return {
    model: { n_layers: nLayers, n_heads: nHeads, d_model: dModel, d_mlp: dMlp },
    n,
    seed,
    circuit: { members: circuitSpecText(options.circuit), source: options.circuitSource },
    rules: {
      does_task: `PD > 0 and PD − corrupted PD ≥ ${MODEL_DOES_TASK_MARGIN}`,
      circuit_does_task: `the model does the task and the circuit recovers ≥ ${CIRCUIT_RECOVERS_AT_LEAST} of (PD − corrupted PD)`,
    },
    families: results,
  };
}
