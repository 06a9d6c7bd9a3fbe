/**
 * Attribution patching (Nanda 2023; Syed, Rager & Conmy 2023): the linear approximation of
 * activation patching. Where activation patching runs the model once per patched slice, this runs
 * the source prompt once (its cache) and the base prompt once forward and backward, and estimates
 * each variant's change of the metric as (source − base activation) · ∂metric/∂activation at the
 * base run, summed over exactly the slices activation patching's variant replaces (the same plan).
 * Noising (the default here) takes the gradient at the clean run and patches corrupted values in.
 */
import { isLogitMetric, type LogitMetric } from "../gpt2/backward/logit-metrics.ts";
import { metricRows, metricWithLogitGradient } from "../gpt2/backward/unembed-backward.ts";
import type { TokenBatch, TokenInput } from "../gpt2/tokens.ts";
import type { HookedGpt2 } from "../hooks/hooked-gpt2.ts";
import { unpaddedTokens } from "../hooks/run-input.ts";
import { shapeSize, shapeToString, Tensor } from "../tensor/tensor.ts";
import { PatchingError } from "./patching-error.ts";
import { axisLabels, checkDirection, checkPatchChoice, checkPromptPair, patchHookName, planFor } from "./patch-plan.ts";
import { type PatchComponent, type PatchDirection, type PatchGrouping, type PatchGroupingFor, PatchingResult } from "./patching-result.ts";

export interface AttributionPatchingOptions<C extends PatchComponent = PatchComponent> {
  readonly component: C;
  readonly by: PatchGroupingFor<C>;
  /** Ids, or text tokenized as run() does it (BOS first); prompts of equal token length. */
  readonly clean: TokenInput | string | readonly string[];
  /** Must have the clean prompt's shape. */
  readonly corrupted: TokenInput | string | readonly string[];
  /**
   * A scalar of the logits that runWithGradients differentiates (logitDifferenceMetric, logProbMetric,
   * probabilityMassDifferenceMetric, …); its `positions` choose the logits it reads.
   */
  readonly metric: LogitMetric;
  /**
   * noising (default): gradient at the clean run, corrupted values patched in; denoising: gradient
   * at the corrupted run, clean values patched in (as activationPatching's direction).
   */
  readonly direction?: PatchDirection;
}

const OPTION_KEYS = ["component", "by", "clean", "corrupted", "metric", "direction"];

function checkLogitMetric(metric: unknown): asserts metric is LogitMetric {
  if (isLogitMetric(metric)) return;
  const hint = typeof metric === "function"
    ? " (a function of the logits is activationPatching's metric; attribution needs its gradient)"
    : "";
  throw new PatchingError(
    "bad_option",
    `metric must be a differentiable logit metric { kind: "softmax", tokens, evaluate } or { kind: "logits", evaluate }, ` +
      `e.g. logitDifferenceMetric or probabilityMassDifferenceMetric; got ${metric === null ? "null" : typeof metric}${hint}`,
  );
}

function checkOptions(model: HookedGpt2, options: AttributionPatchingOptions): {
  clean: TokenBatch; corrupted: TokenBatch; direction: PatchDirection;
} {
  checkPatchChoice(options.component, options.by);
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      const hint = key === "logitPositions" ? " (the metric's own positions choose the logits it reads)" : "";
      throw new PatchingError("bad_option", `unknown attributionPatching option "${key}"${hint}; the options are ${OPTION_KEYS.join(", ")}`);
    }
  }
  checkLogitMetric(options.metric);
  const direction = checkDirection(options.direction, "noising");
  return { ...checkPromptPair(model, options.clean, options.corrupted), direction };
}

/**
 * A LogitMetric as activationPatching's metric of logits [batch, logitPositions.length, d_vocab]
 * for these prompts, with the logitPositions it needs: the same number for the same logits
 * (prompts unpadded, so "last" is position pos − 1).
 */
export function patchingMetricOf(
  model: HookedGpt2, metric: LogitMetric, prompts: TokenInput | string | readonly string[],
): { metric: (logits: Tensor) => number; logitPositions: number[] } {
  checkLogitMetric(metric);
  const { batch, pos } = model.tokens(unpaddedTokens(prompts, "prompts"));
  const rows = metricRows(metric.positions, batch, pos, Array.from({ length: batch }, () => pos - 1));
  const logitPositions = [...new Set(Array.from(rows, (r) => r % pos))].sort((a, b) => a - b);
  const column = new Map(logitPositions.map((p, i) => [p, i]));
  const vocab = model.config.dVocab;
  return {
    logitPositions,
    metric: (logits: Tensor): number => {
      const expected = [batch, logitPositions.length, vocab];
      if (shapeToString(logits.shape) !== shapeToString(expected)) {
        throw new PatchingError("shape_mismatch", `logits of shape ${shapeToString(logits.shape)}, expected ${shapeToString(expected)}`);
      }
      const read = new Float32Array(rows.length * vocab);
      rows.forEach((r, i) => {
        const from = (Math.floor(r / pos) * logitPositions.length + column.get(r % pos)!) * vocab;
        read.set(logits.data.subarray(from, from + vocab), i * vocab);
      });
      return metricWithLogitGradient(model.model, metric, new Tensor(read, [rows.length, vocab])).value;
    },
  };
}

/**
 * Attribution patching over the grid of (layer, pos), (layer, head) or (layer, pos, head) variants
 * that activationPatching uses for the same component and grouping: a PatchingResult of the same
 * shape, axes and labels (the metric is a scalar, so no metric axes) with `method` "attribution",
 * whose values are the estimated changes of the metric from the base run's.
 */
export function attributionPatching<C extends PatchComponent>(
  model: HookedGpt2,
  options: AttributionPatchingOptions<C>,
): PatchingResult {
  const { clean, corrupted, direction } = checkOptions(model, options);
  const component: PatchComponent = options.component;
  const by: PatchGrouping = options.by;
  const { batch, pos } = clean;
  const { nLayers } = model.config;
  const plan = planFor(model, component, by, pos);
  const names = Array.from({ length: nLayers }, (_, l) => patchHookName(component, l));

  const [baseTokens, sourceTokens] = direction === "noising" ? [clean, corrupted] : [corrupted, clean];
  const sourceMetric = patchingMetricOf(model, options.metric, clean);
  const source = model.run(sourceTokens, { cache: names, logitPositions: sourceMetric.logitPositions });
  const sourceValue = sourceMetric.metric(source.logits);
  const base = model.runWithGradients(baseTokens, { metric: options.metric, grads: names, cache: names });

  const values = new Float32Array(shapeSize(plan.gridShape));
  for (let layer = 0; layer < nLayers; layer++) {
    const to = base.cache.get(names[layer]!).data;
    const from = source.cache.get(names[layer]!).data;
    const grad = base.grads.get(names[layer]!).data;
    for (let variant = 0; variant < plan.variantsPerLayer; variant++) {
      const segments = plan.segments(variant);
      let total = 0;
      for (let b = 0; b < batch; b++) {
        for (const [offset, length] of segments) {
          const start = b * plan.rowSize + offset;
          for (let i = start; i < start + length; i++) total += (from[i]! - to[i]!) * grad[i]!;
        }
      }
      values[layer * plan.variantsPerLayer + variant] = total;
    }
  }

  const [cleanValue, corruptedValue] = direction === "noising" ? [base.value, sourceValue] : [sourceValue, base.value];
  return new PatchingResult({
    values: new Tensor(values, [...plan.gridShape]),
    axes: plan.gridAxes,
    labels: axisLabels(plan.gridAxes, plan.gridShape),
    gridRank: plan.gridShape.length,
    component,
    by,
    direction,
    baseline: { clean: cleanValue, corrupted: corruptedValue },
    method: "attribution",
  });
}
