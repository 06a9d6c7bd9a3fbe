/**
 * The random-circuit control: the paper's circuit evaluation (evaluateCircuitPaper) of k head sets
 * drawn uniformly at random, each the size of the circuit's head set, beside the circuit's own value.
 * The MLPs are the circuit's own ("same") or a random set of as many of the model's MLPs ("random").
 */
import { InputError } from "../../errors.ts";
import { evaluateCircuitPaper, type HeadComponent, type MlpComponent } from "../../patching/circuit-evaluation.ts";
import { componentLabel } from "../../patching/nodes.ts";
import type { PathPatchingContext } from "../../patching/path-patching.ts";
import { seededRandom, type SeededRandom } from "../random.ts";

export type RandomCircuitMlps = "same" | "random";

export interface RandomCircuitOptions {
  readonly heads: readonly HeadComponent[];
  readonly mlps: readonly MlpComponent[];
  /** Where the heads' outputs and the MLPs are taken (END). */
  readonly position: number;
  /** Number of random circuits (default 20). */
  readonly k?: number;
  readonly seed?: number;
  /** Keep the circuit's MLPs ("same", the default) or draw as many at random ("random"). */
  readonly mlpChoice?: RandomCircuitMlps;
  /** The circuit's own PD under this evaluation when already computed (evaluateCircuitPaper's metric, e.g. circuitEvaluationRuns' paper). */
  readonly circuitProbDiff?: number;
  readonly onStep?: (done: number, total: number) => void;
}

export interface RandomCircuitControl {
  readonly k: number;
  readonly seed: number;
  readonly mlps: RandomCircuitMlps;
  /** The rule, in a sentence. */
  readonly rule: string;
  /** The circuit's PD under the same evaluation. */
  readonly circuit_prob_diff: number;
  /** Each random circuit: its heads, its MLPs and its PD. */
  readonly random: { readonly heads: string[]; readonly mlps: string[]; readonly prob_diff: number }[];
  /** Fraction of the random circuits whose PD reaches the circuit's (≥). */
  readonly fraction_reaching: number;
}

export const DEFAULT_RANDOM_CIRCUITS = 20;

/** `count` distinct items drawn uniformly (a partial Fisher–Yates shuffle), in draw order. */
export function sampleWithoutReplacement<T>(items: readonly T[], count: number, random: SeededRandom): T[] {
  if (!Number.isInteger(count) || count < 0 || count > items.length) {
    throw new InputError(`cannot draw ${count} distinct items from ${items.length}`, "bad_count");
  }
  const pool = [...items];
  for (let i = 0; i < count; i++) {
    const j = i + random.nextInt(pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

export function randomCircuitControl(context: PathPatchingContext, options: RandomCircuitOptions): RandomCircuitControl {
  const k = options.k ?? DEFAULT_RANDOM_CIRCUITS;
  const seed = options.seed ?? 0;
  const mlpChoice = options.mlpChoice ?? "same";
  if (!Number.isSafeInteger(k) || k < 1) throw new InputError(`the random-circuit control needs k ≥ 1 random circuits, got ${k}`, "bad_count");
  if (mlpChoice !== "same" && mlpChoice !== "random") {
    throw new InputError(`random-circuit MLPs must be "same" or "random", got ${JSON.stringify(mlpChoice)}`, "bad_option");
  }
  const { nLayers, nHeads } = context.model.config;
  const allHeads: HeadComponent[] = Array.from({ length: nLayers * nHeads }, (_, i) => ({ kind: "head", layer: Math.floor(i / nHeads), head: i % nHeads }));
  const allMlps: MlpComponent[] = Array.from({ length: nLayers }, (_, layer) => ({ kind: "mlp", layer }));
  const random = seededRandom(seed);
  const step = options.onStep ?? (() => {});
  const evaluate = (heads: readonly HeadComponent[], mlps: readonly MlpComponent[]) =>
    evaluateCircuitPaper(context, { heads, mlps, position: options.position }).metric;
  step(0, k + 1);
  const circuitPd = options.circuitProbDiff ?? evaluate(options.heads, options.mlps);
  const drawn = Array.from({ length: k }, (_, i) => {
    const heads = sampleWithoutReplacement(allHeads, options.heads.length, random).sort((a, b) => a.layer - b.layer || a.head - b.head);
    const mlps = mlpChoice === "same" ? [...options.mlps] : sampleWithoutReplacement(allMlps, options.mlps.length, random);
    mlps.sort((a, b) => a.layer - b.layer);
    step(i + 1, k + 1);
    return { heads: heads.map(componentLabel), mlps: mlps.map(componentLabel), prob_diff: evaluate(heads, mlps) };
  });
  step(k + 1, k + 1);
  const mlpRule = mlpChoice === "same" ? "the circuit's own MLPs" : `${options.mlps.length} MLPs drawn at random`;
  return {
    k,
    seed,
    mlps: mlpChoice,
    rule:
      `the paper's circuit evaluation of ${k} sets of ${options.heads.length} heads drawn uniformly without replacement from all ` +
      `${nLayers * nHeads} heads (seed ${seed}), with ${mlpRule}`,
    circuit_prob_diff: circuitPd,
    random: drawn,
    fraction_reaching: drawn.filter((d) => d.prob_diff >= circuitPd).length / k,
  };
}
