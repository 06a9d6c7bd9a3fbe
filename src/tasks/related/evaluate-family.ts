/**
 * One related family on a model: its PD and CS with the family's mask, the corrupted PD, the
 * probability heatmap, the circuit's evaluation and the senders → logits path-patching grid.
 * Path patching needs equally long prompts with the same YY position, so prompts are grouped by
 * (length, YY position), each group is run and patched on its own, and means are weighted by size.
 */
import { unembed } from "../../gpt2/components/unembed.ts";
import type { TokenBatch } from "../../gpt2/tokenizer.ts";
import type { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import { collectPathActivations } from "../../patching/path-activations.ts";
import { evaluateCircuit, pathPatchingSweep, type PathPatchingContext } from "../../patching/path-patching.ts";
import { YEAR_COUNT, yearProbabilities } from "../greater-than/metrics.ts";
import { circuitNodes, type CircuitMember } from "./circuit-spec.ts";
import type { YearMask } from "./families.ts";
import { maskedCutoffSharpness, maskedPdMetric, maskedPdSoftmaxMetric, maskedProbabilityDifference, mean } from "./masked-metrics.ts";
import type { ExclusionReason, FamilyPrompts, RelatedPrompt } from "./prompts.ts";

/** The model does a family's task when its PD is positive and beats the corrupted prompts' by this much. */
export const MODEL_DOES_TASK_MARGIN = 0.1;
/** The circuit does it when it recovers this share of (model PD − corrupted PD). */
export const CIRCUIT_RECOVERS_AT_LEAST = 0.5;

export interface RelatedFamilyResult {
  readonly id: string;
  readonly name: string;
  readonly template: string;
  readonly corrupted: string;
  readonly mask: YearMask;
  readonly prompts: {
    readonly requested: number;
    readonly used: number;
    readonly excluded: Readonly<Partial<Record<ExclusionReason, number>>>;
    readonly examples: readonly { readonly clean: string; readonly corrupted: string }[];
    /** Prompts grouped for path patching: token length, YY and END positions, count. */
    readonly groups: readonly { readonly length: number; readonly yy_position: number; readonly end: number; readonly count: number }[];
  };
  /** null when no prompt was kept. */
  readonly prob_diff: number | null;
  readonly cutoff_sharpness: number | null;
  readonly corrupted_prob_diff: number | null;
  readonly circuit: { readonly prob_diff: number; readonly fraction_of_baseline: number; readonly recovered: number } | null;
  readonly does_task: boolean;
  /** null when the model does not do the task (nothing for a circuit to carry) or there is no circuit. */
  readonly circuit_does_task: boolean | null;
  readonly probability_heatmap: { readonly yy: number[]; readonly mean_probability: number[][] };
  /** Senders at END → logits: mean change of the family's PD, [layer][head], head = n_heads for the MLP. */
  readonly path_patching_logits: (number | null)[][] | null;
}

export interface EvaluateFamilyOptions {
  readonly model: HookedGpt2;
  readonly prompts: FamilyPrompts;
  readonly circuit: readonly CircuitMember[];
  readonly yearTokens: readonly number[];
  readonly onStep?: (done: number, total: number) => void;
}

interface GroupResult {
  readonly count: number;
  readonly probs: Float64Array;
  readonly yy: Int32Array;
  readonly corruptedPd: number;
  readonly circuitPd: number | null;
  readonly grid: (number | null)[][];
}

export function groupPrompts(prompts: readonly RelatedPrompt[]): RelatedPrompt[][] {
  const groups = new Map<string, RelatedPrompt[]>();
  for (const prompt of prompts) {
    const key = `${prompt.tokens.length}:${prompt.yyPosition}`;
    groups.set(key, [...(groups.get(key) ?? []), prompt]);
  }
  return [...groups.values()];
}

function batchOf(rows: readonly (readonly number[])[]): TokenBatch {
  const pos = rows[0]!.length;
  const ids = new Int32Array(rows.length * pos);
  rows.forEach((row, b) => ids.set(row, b * pos));
  return { ids, batch: rows.length, pos };
}

function runGroup(options: EvaluateFamilyOptions, group: readonly RelatedPrompt[]): GroupResult {
  const { model, yearTokens } = options;
  const mask = options.prompts.family.mask;
  const tokens = batchOf(group.map((p) => p.tokens));
  const corruptedTokens = batchOf(group.map((p) => p.corruptedTokens));
  const yy = Int32Array.from(group.map((p) => p.yy));
  const { end, yyPosition } = group[0]!;
  const clean = collectPathActivations(model, tokens);
  const corrupted = collectPathActivations(model, corruptedTokens, { reuse: { run: clean, tokens } });
  const vocab = model.config.dVocab;
  const probs = yearProbabilities(unembed(model.model, clean.finalResidAt(end)).data, vocab, yearTokens);
  const corruptedProbs = yearProbabilities(unembed(model.model, corrupted.finalResidAt(end)).data, vocab, yearTokens);
  const context: PathPatchingContext = {
    model, clean, corrupted, logitPosition: end,
    metric: maskedPdMetric(yearTokens, yy, mask),
    softmaxMetric: maskedPdSoftmaxMetric(yearTokens, yy, mask),
  };
  const circuitPd = options.circuit.length
    ? evaluateCircuit(context, circuitNodes(options.circuit, { yy: yyPosition, end })).metric
    : null;
  const { grid } = pathPatchingSweep(context, { senderPosition: end, receivers: "logits" });
  return { count: group.length, probs, yy, corruptedPd: mean(maskedProbabilityDifference(corruptedProbs, yy, mask)), circuitPd, grid };
}

function weighted(groups: readonly GroupResult[], value: (g: GroupResult) => number): number {
  const total = groups.reduce((sum, g) => sum + g.count, 0);
  return groups.reduce((sum, g) => sum + value(g) * g.count, 0) / total;
}

function weightedGrid(groups: readonly GroupResult[]): (number | null)[][] {
  return groups[0]!.grid.map((row, layer) =>
    row.map((cell, column) => (cell === null ? null : weighted(groups, (g) => g.grid[layer]![column] ?? 0))),
  );
}

function heatmap(groups: readonly GroupResult[]): RelatedFamilyResult["probability_heatmap"] {
  const sums = new Map<number, { total: Float64Array; count: number }>();
  for (const g of groups) {
    g.yy.forEach((y, row) => {
      const entry = sums.get(y) ?? { total: new Float64Array(YEAR_COUNT), count: 0 };
      for (let year = 0; year < YEAR_COUNT; year++) entry.total[year]! += g.probs[row * YEAR_COUNT + year]!;
      entry.count++;
      sums.set(y, entry);
    });
  }
  const yy = [...sums.keys()].sort((a, b) => a - b);
  return { yy, mean_probability: yy.map((y) => Array.from(sums.get(y)!.total, (t) => t / sums.get(y)!.count)) };
}

export function evaluateFamily(options: EvaluateFamilyOptions): RelatedFamilyResult {
  const { family, prompts, requested, excluded } = options.prompts;
  const groups = groupPrompts(prompts);
  const describe = {
    requested,
    used: prompts.length,
    excluded,
    examples: prompts.slice(0, 3).map((p) => ({ clean: p.text, corrupted: p.corruptedText })),
    groups: groups.map((g) => ({ length: g[0]!.tokens.length, yy_position: g[0]!.yyPosition, end: g[0]!.end, count: g.length })),
  };
  const base = { id: family.id, name: family.name, template: family.template, corrupted: family.corrupted, mask: family.mask, prompts: describe };
  if (groups.length === 0) {
    return {
      ...base, prob_diff: null, cutoff_sharpness: null, corrupted_prob_diff: null, circuit: null, does_task: false,
      circuit_does_task: null, probability_heatmap: { yy: [], mean_probability: [] }, path_patching_logits: null,
    };
  }
  const results: GroupResult[] = [];
  groups.forEach((group, i) => {
    options.onStep?.(i, groups.length);
    results.push(runGroup(options, group));
  });
  options.onStep?.(groups.length, groups.length);
  const pd = weighted(results, (g) => mean(maskedProbabilityDifference(g.probs, g.yy, family.mask)));
  const cs = weighted(results, (g) => mean(maskedCutoffSharpness(g.probs, g.yy, family.mask)));
  const corruptedPd = weighted(results, (g) => g.corruptedPd);
  const doesTask = pd > 0 && pd - corruptedPd >= MODEL_DOES_TASK_MARGIN;
  let circuit: RelatedFamilyResult["circuit"] = null;
  if (results[0]!.circuitPd !== null) {
    const circuitPd = weighted(results, (g) => g.circuitPd!);
    circuit = { prob_diff: circuitPd, fraction_of_baseline: circuitPd / pd, recovered: (circuitPd - corruptedPd) / (pd - corruptedPd) };
  }
  return {
    ...base,
    prob_diff: pd,
    cutoff_sharpness: cs,
    corrupted_prob_diff: corruptedPd,
    circuit,
    does_task: doesTask,
    circuit_does_task: doesTask && circuit ? circuit.recovered >= CIRCUIT_RECOVERS_AT_LEAST : null,
    probability_heatmap: heatmap(results),
    path_patching_logits: weightedGrid(results),
  };
}
