/**
 * Path patching per prompt: pathPatch's change of the metric row by row instead of its mean, for
 * standard deviations and bootstrap intervals of single path-patching cells.
 */
import type { Tensor } from "../tensor/tensor.ts";
import { patchedSoftmax } from "./circuit-evaluation.ts";
import { patchedFinalResidual } from "./path-engine.ts";
import { type PathPatchingContext, type PathPatchOptions, pathPatchGraph } from "./path-patching.ts";
import { PatchingError } from "./patching-error.ts";

/** A per-row metric from each row's full-vocabulary log-sum-exp and the logits of `tokens` ([batch, tokens.length]). */
export interface RowSoftmaxMetric {
  readonly tokens: readonly number[];
  readonly rows: (logSumExp: Float64Array, tokenLogits: Tensor) => Float64Array;
}

/**
 * Per prompt, the metric of the clean run with the path sender → receivers → continuation → logits
 * carrying corrupted − clean, minus the metric of the clean run. The mean of the rows is pathPatch's
 * value when `metric` is the per-row form of the context's metric.
 */
export function pathPatchRows(context: PathPatchingContext, options: PathPatchOptions, metric: RowSoftmaxMetric): Float64Array {
  const graph = pathPatchGraph(context, options);
  const { clean, corrupted, logitPosition } = context;
  const rowsOf = (final: Tensor) => {
    const { logSumExp, tokenLogits } = patchedSoftmax(context, final, clean, metric.tokens);
    const values = metric.rows(logSumExp, tokenLogits);
    if (values.length !== clean.batch) {
      throw new PatchingError("bad_metric", `the row metric returned ${values.length} values for a batch of ${clean.batch} prompts`);
    }
    return values;
  };
  const patched = rowsOf(patchedFinalResidual(context.model.model, clean, corrupted, graph, logitPosition));
  const base = rowsOf(clean.finalResidAt(logitPosition));
  return patched.map((value, row) => value - base[row]!);
}
