/** `greater-than`'s control flags: --slice, --baseline-n/--baseline-batch, --random-circuits/--random-mlps, --bootstrap, --control-seed, --min-pd. */
import type { GreaterThanPipelineOptions } from "../../tasks/greater-than/pipeline.ts";
import { optionalString, type ParsedArgs, parsePositiveInt } from "../args.ts";
import { UsageError } from "../usage-error.ts";

const COMMAND = "greater-than";
const MAX_SEED = 2 ** 32 - 1;

export type ControlOptions = Pick<
  GreaterThanPipelineOptions, "sliceYy" | "largeBaseline" | "randomCircuits" | "bootstrap" | "minProbDiff"
>;

function parseCount(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${COMMAND}: --${flag} must be a whole number (0, 1, …), got "${value}"`);
  }
  return Number(value);
}

export function parseControlFlags(values: ParsedArgs["values"]): ControlOptions {
  const slice = optionalString(values, "slice");
  const sliceYy = parseCount(slice, "slice", 41);
  if (sliceYy < 2 || sliceYy > 98) throw new UsageError(`${COMMAND}: --slice must be a start year YY from 2 to 98, got "${slice}"`);
  const seed = parseCount(optionalString(values, "control-seed"), "control-seed", 0);
  if (seed > MAX_SEED) throw new UsageError(`${COMMAND}: --control-seed must be an integer from 0 to ${MAX_SEED}, got "${seed}"`);
  const bootstrap = { resamples: parsePositiveInt(COMMAND, values.bootstrap, "bootstrap", 1000), seed };
  const randomK = parseCount(optionalString(values, "random-circuits"), "random-circuits", 20);
  const mlps = optionalString(values, "random-mlps") ?? "same";
  if (mlps !== "same" && mlps !== "random") {
    throw new UsageError(`${COMMAND}: --random-mlps must be "same" (the circuit's MLPs) or "random", got "${mlps}"`);
  }
  if (randomK === 0 && values["random-mlps"] !== undefined) {
    throw new UsageError(`${COMMAND}: --random-mlps needs random circuits; --random-circuits is 0`);
  }
  const baselineN = values["baseline-n"] === undefined ? undefined : parsePositiveInt(COMMAND, values["baseline-n"], "baseline-n", 1);
  const batchSize = parsePositiveInt(COMMAND, values["baseline-batch"], "baseline-batch", 256);
  if (baselineN === undefined && values["baseline-batch"] !== undefined) {
    throw new UsageError(`${COMMAND}: --baseline-batch sets the batch of --baseline-n; give --baseline-n too`);
  }
  const minPdText = optionalString(values, "min-pd");
  const minProbDiff = minPdText === undefined ? 0.05 : Number(minPdText);
  if (minPdText !== undefined && (!/^\d*\.?\d+$/.test(minPdText) || !(minProbDiff >= 0 && minProbDiff < 1))) {
    throw new UsageError(`${COMMAND}: --min-pd must be a number from 0 to below 1 (a probability difference), got "${minPdText}"`);
  }
  return {
    sliceYy,
    bootstrap,
    minProbDiff,
    randomCircuits: randomK === 0 ? null : { k: randomK, seed, mlps },
    ...(baselineN === undefined ? {} : { largeBaseline: { n: baselineN, seed, batchSize } }),
  };
}
