/**
 * Activation patching as TransformerLens' `patching` module defines it (`get_act_patch_resid_pre`,
 * `get_act_patch_attn_head_out_all_pos`, …): for every (layer, position / head) variant, run the base
 * prompt, overwrite one slice of one hook point with its value from the other prompt, and record
 * the metric of the patched logits.
 *
 * The results are the same; the work is not. A patched run starts from the base run's cached
 * `blocks.L.hook_resid_pre` at the patched layer instead of the embedding, all variants of a layer
 * run as one tiled batch (chunked by `maxBatchRows`), and only the `logitPositions` are unembedded.
 * A variant whose patch cannot change those logits (the source slice equals the base slice bit for
 * bit, e.g. positions before the first differing token; or it patches one position after the last
 * logit position) is not run at all: its value is the base run's metric, which is what running it
 * gives, as every kernel computes each prompt row on its own. The metric should be a pure function.
 */
import type { TokenBatch, TokenInput } from "../gpt2/tokens.ts";
import { blockHook } from "../gpt2/hook-names.ts";
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import { shapeSize, shapeToString, Tensor } from "../tensor/tensor.ts";
import { PatchingError } from "./patching-error.ts";
import {
  axisLabels, checkDirection, checkPatchChoice, checkPromptPair, patchHookName, planFor, type Segments,
} from "./patch-plan.ts";
import {
  type MetricValue, type PatchComponent, type PatchDirection, type PatchGrouping, type PatchGroupingFor,
  PatchingResult,
} from "./patching-result.ts";

export {
  type MetricValue, type PatchComponent, type PatchDirection, type PatchGrouping, type PatchGroupingFor,
  PatchingResult, type PatchMethod,
} from "./patching-result.ts";

/** Receives the patched run's logits [batch, logitPositions.length, d_vocab]; a scalar, an array or a tensor. */
export type PatchingMetric = (logits: Tensor) => number | ArrayLike<number> | Tensor;

export interface ActivationPatchingOptions<C extends PatchComponent = PatchComponent> {
  readonly component: C;
  readonly by: PatchGroupingFor<C>;
  /** Ids, or text tokenized as run() does it (BOS first); prompts of equal token length. */
  readonly clean: TokenInput | string | readonly string[];
  /** Must have the clean prompt's shape. */
  readonly corrupted: TokenInput | string | readonly string[];
  /** denoising (default): run corrupted, patch clean values in; noising: run clean, patch corrupted values in. */
  readonly direction?: PatchDirection;
  readonly metric: PatchingMetric;
  /** Positions whose logits the metric sees. Default: every position (as TransformerLens). */
  readonly logitPositions?: readonly number[];
  /**
   * At most this many prompt rows (batch × variants) per forward pass; default 512. Chunks are also
   * kept under 65 536 tokens and 2²⁶ logits; a chunk always holds at least one whole variant.
   */
  readonly maxBatchRows?: number;
}

export { supportedPatches } from "./patch-plan.ts";

export const DEFAULT_MAX_BATCH_ROWS = 512;
/** Further bounds on one tiled forward (activations, logits); chunking never changes results. */
const MAX_CHUNK_TOKENS = 1 << 16;
const MAX_CHUNK_LOGITS = 1 << 26;

function checkOptions(model: HookedGpt2, options: ActivationPatchingOptions): {
  clean: TokenBatch; corrupted: TokenBatch; logitPositions: number[]; maxBatchRows: number; direction: PatchDirection;
} {
  checkPatchChoice(options.component, options.by);
  if (typeof options.metric !== "function") {
    throw new PatchingError("bad_option", "metric must be a function of the patched logits");
  }
  const direction = checkDirection(options.direction, "denoising");
  const { clean, corrupted } = checkPromptPair(model, options.clean, options.corrupted);
  const logitPositions = options.logitPositions
    ? [...options.logitPositions]
    : Array.from({ length: clean.pos }, (_, p) => p);
  if (logitPositions.length === 0) throw new PatchingError("bad_position", "logitPositions is empty");
  for (const p of logitPositions) {
    if (!Number.isInteger(p) || p < 0 || p >= clean.pos) {
      throw new PatchingError("bad_position", `logit position ${p} is outside the prompt's positions [0, ${clean.pos})`);
    }
  }
  const maxBatchRows = options.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS;
  if (!Number.isInteger(maxBatchRows) || maxBatchRows < 1) {
    throw new PatchingError("bad_option", `maxBatchRows must be a positive integer, got ${maxBatchRows}`);
  }
  return { clean, corrupted, logitPositions, maxBatchRows, direction };
}

/** Whether a variant's slices hold the same values in both activations (of `batch` rows). */
function sameSlices(a: Tensor, b: Tensor, segments: Segments, batch: number, rowSize: number): boolean {
  const x = a.data, y = b.data;
  for (let r = 0; r < batch; r++) {
    for (const [offset, length] of segments) {
      const start = r * rowSize + offset;
      for (let i = start; i < start + length; i++) if (!Object.is(x[i], y[i])) return false;
    }
  }
  return true;
}

/** Collects metric values into one flat array, checking every value against the first one's shape. */
class MetricSink {
  shape: number[] | null = null;
  size = 0;
  values: Float32Array | null = null;

  constructor(readonly count: number) {}

  /** Normalizes a metric return to [shape, flat values]; fixes the shape at the first call. */
  read(raw: unknown, where: string): number[] {
    let shape: number[];
    let flat: number[];
    if (typeof raw === "number") {
      shape = [];
      flat = [raw];
    } else if (raw instanceof Tensor) {
      shape = [...raw.shape];
      flat = Array.from(raw.data);
    } else if (raw !== null && typeof raw === "object" && typeof (raw as ArrayLike<number>).length === "number") {
      flat = Array.from(raw as ArrayLike<number>);
      shape = [flat.length];
      if (flat.some((x) => typeof x !== "number")) {
        throw new PatchingError("bad_metric", `metric returned a non-numeric array ${where}`);
      }
    } else {
      throw new PatchingError("bad_metric", `metric returned ${raw === null ? "null" : typeof raw} ${where}; expected a number, an array of numbers or a Tensor`);
    }
    if (this.shape === null) {
      this.shape = shape;
      this.size = shapeSize(shape);
      this.values = new Float32Array(this.count * this.size);
    } else if (shape.length !== this.shape.length || shape.some((d, i) => d !== this.shape![i])) {
      throw new PatchingError(
        "bad_metric",
        `metric returned shape ${shapeToString(shape)} ${where}, but ${shapeToString(this.shape)} before; every return must have the same shape`,
      );
    }
    return flat;
  }

  store(index: number, raw: unknown, where: string): void {
    this.storeFlat(index, this.read(raw, where));
  }

  storeFlat(index: number, flat: readonly number[]): void {
    this.values!.set(flat, index * this.size);
  }
}

/**
 * Activation patching over a grid of (layer, pos), (layer, head) or (layer, pos, head) variants.
 * `values` is [...grid, ...metricShape]; denoising patches clean values into the corrupted run.
 */
export function activationPatching<C extends PatchComponent>(
  model: HookedGpt2,
  options: ActivationPatchingOptions<C>,
): PatchingResult {
  const { clean, corrupted, logitPositions, maxBatchRows, direction } = checkOptions(model, options);
  const component: PatchComponent = options.component;
  const by: PatchGrouping = options.by;
  const { batch, pos } = clean;
  const { nLayers } = model.config;
  const plan = planFor(model, component, by, pos);
  const residNames = Array.from({ length: nLayers }, (_, l) => blockHook(l, "hook_resid_pre"));
  const patchNames = Array.from({ length: nLayers }, (_, l) => patchHookName(component, l));

  const [baseTokens, sourceTokens] = direction === "denoising" ? [corrupted, clean] : [clean, corrupted];
  const base = model.run(baseTokens, { cache: [...new Set([...residNames, ...patchNames])], logitPositions });
  const source = model.run(sourceTokens, { cache: patchNames, logitPositions });

  const gridSize = shapeSize(plan.gridShape);
  const sink = new MetricSink(gridSize);
  const cleanRun = direction === "denoising" ? source : base;
  const corruptedRun = direction === "denoising" ? base : source;
  const cleanFlat = sink.read(options.metric(cleanRun.logits), "for the clean run");
  const corruptedFlat = sink.read(options.metric(corruptedRun.logits), "for the corrupted run");
  const asValue = (flat: number[]): MetricValue => (sink.shape!.length === 0 ? flat[0]! : flat);
  const baseline = { clean: asValue(cleanFlat), corrupted: asValue(corruptedFlat) };
  const baseFlat = direction === "denoising" ? corruptedFlat : cleanFlat;
  const lastLogitPosition = Math.max(...logitPositions);

  const variantsPerChunk = Math.max(1, Math.min(
    Math.floor(maxBatchRows / batch),
    Math.floor(MAX_CHUNK_TOKENS / (batch * pos)),
    Math.floor(MAX_CHUNK_LOGITS / (batch * logitPositions.length * model.config.dVocab)),
  ));
  const logitsPerVariant = batch * logitPositions.length * model.config.dVocab;
  for (let layer = 0; layer < nLayers; layer++) {
    const residual = base.cache.get(residNames[layer]!);
    const baseValue = base.cache.get(patchNames[layer]!);
    const sourceValue = source.cache.get(patchNames[layer]!);
    if (sourceValue.size !== batch * plan.rowSize) {
      throw new PatchingError("shape_mismatch", `${patchNames[layer]} has shape ${shapeToString(sourceValue.shape)}, unexpected for ${batch} prompts of ${pos} tokens`);
    }
    // A patch that writes the values already there, or only at positions after every logit position
    // (causal attention), leaves the logits as in the base run: its value is the base run's metric.
    const active: number[] = [];
    for (let variant = 0; variant < plan.variantsPerLayer; variant++) {
      const at = plan.position(variant);
      const noOp = (at !== null && at > lastLogitPosition) ||
        sameSlices(baseValue, sourceValue, plan.segments(variant), batch, plan.rowSize);
      if (noOp) sink.storeFlat(layer * plan.variantsPerLayer + variant, baseFlat);
      else active.push(variant);
    }
    for (let first = 0; first < active.length; first += variantsPerChunk) {
      const count = Math.min(variantsPerChunk, active.length - first);
      const tiled = new Float32Array(count * residual.size);
      for (let i = 0; i < count; i++) tiled.set(residual.data, i * residual.size);
      const overwrite = (activation: Tensor): void => {
        for (let i = 0; i < count; i++) {
          const segments = plan.segments(active[first + i]!);
          for (let b = 0; b < batch; b++) {
            const from = b * plan.rowSize;
            const to = (i * batch + b) * plan.rowSize;
            for (const [offset, length] of segments) {
              activation.data.set(sourceValue.data.subarray(from + offset, from + offset + length), to + offset);
            }
          }
        }
      };
      const { logits } = model.run(baseTokens, {
        start: { layer, residual: new Tensor(tiled, [count * batch, pos, model.config.dModel]) },
        hooks: [[patchNames[layer]!, overwrite]],
        logitPositions,
      });
      for (let i = 0; i < count; i++) {
        const view = new Tensor(
          logits.data.subarray(i * logitsPerVariant, (i + 1) * logitsPerVariant),
          [batch, logitPositions.length, model.config.dVocab],
        );
        const variant = active[first + i]!;
        sink.store(layer * plan.variantsPerLayer + variant, options.metric(view), `for layer ${layer}, variant ${variant}`);
      }
    }
  }

  const metricShape = sink.shape!;
  const metricAxes = metricShape.length === 1 ? ["metric"] : metricShape.map((_, i) => `metric${i}`);
  const axes = [...plan.gridAxes, ...metricAxes];
  const shape = [...plan.gridShape, ...metricShape];
  return new PatchingResult({
    values: new Tensor(sink.values!, shape),
    axes,
    labels: axisLabels(axes, shape),
    gridRank: plan.gridShape.length,
    component,
    by,
    direction,
    baseline,
  });
}
