import { InputError } from "../../errors.ts";
import type { Tensor } from "../../tensor/tensor.ts";

/**
 * Which positions' logits a metric reads: each prompt's last real token ("last", the default),
 * every position ("all"), or one given position per prompt.
 */
export type MetricPositions = "last" | "all" | readonly number[];

/** A metric's value and its partial derivatives with respect to what it read. */
export interface SoftmaxMetricValue {
  readonly value: number;
  /** ∂value/∂tokenLogits, [rows, tokens.length]. */
  readonly dTokenLogits: Float64Array;
  /** ∂value/∂logSumExp, [rows]. */
  readonly dLogSumExp: Float64Array;
}

/**
 * A scalar function of some tokens' logits and each read row's full-vocabulary log-sum-exp (any
 * softmax probability is exp(logit − logSumExp)). Its gradient with respect to the logits is
 * dLogSumExp·softmax plus dTokenLogits on the tokens, so no dense gradient of its own is needed.
 * Rows are the read positions in order: one per prompt, or prompt-major every position for "all".
 */
export interface SoftmaxLogitMetric {
  readonly kind: "softmax";
  readonly positions?: MetricPositions;
  /** The token ids whose logits `evaluate` gets (the same for every row). */
  readonly tokens: readonly number[];
  /** tokenLogits [rows, tokens.length] and logSumExp [rows], float64 → value and partials. */
  evaluate(tokenLogits: Float64Array, logSumExp: Float64Array, rows: number): SoftmaxMetricValue;
}

/** A scalar function of the read rows' whole logits, [rows, d_vocab], returning its gradient (same layout). */
export interface FullLogitMetric {
  readonly kind: "logits";
  readonly positions?: MetricPositions;
  evaluate(logits: Tensor): { readonly value: number; readonly dLogits: ArrayLike<number> };
}

/** What runWithGradients differentiates: a scalar of the logits. */
export type LogitMetric = SoftmaxLogitMetric | FullLogitMetric;

/** Whether a value has a LogitMetric's shape: { kind: "softmax", tokens, evaluate } or { kind: "logits", evaluate }. */
export function isLogitMetric(value: unknown): value is LogitMetric {
  const m = value as Partial<LogitMetric> | null | undefined;
  return typeof m === "object" && m !== null && typeof m.evaluate === "function" &&
    (m.kind === "logits" || (m.kind === "softmax" && Array.isArray((m as { tokens?: unknown }).tokens)));
}

/** A token per read row: one id for all rows, or a list with one per row. */
export type RowTokens = number | readonly number[];

function tokenOfRow(tokens: RowTokens, row: number, rows: number, what: string): number {
  if (typeof tokens === "number") return tokens;
  if (tokens.length !== rows) {
    throw new InputError(`${what}: ${tokens.length} tokens for ${rows} metric rows (give one per row, or one id for all)`, "shape_mismatch");
  }
  return tokens[row]!;
}

/** The distinct ids of one or more RowTokens, in first-seen order, with a lookup of their columns. */
function tokenColumns(...lists: RowTokens[]): { tokens: number[]; column: Map<number, number> } {
  const column = new Map<number, number>();
  for (const list of lists) for (const t of typeof list === "number" ? [list] : list) if (!column.has(t)) column.set(t, column.size);
  return { tokens: [...column.keys()], column };
}

/**
 * Mean over the read rows of Σ coefficient·logit[token] over the row's terms, plus
 * logSumExpCoefficient·logSumExp: linear in the logits and the log-sum-exp, so its partials are the
 * coefficients / rows.
 */
function linearTokenMetric(
  tokenLists: RowTokens[], termsOf: (row: number, rows: number) => readonly (readonly [number, number])[],
  logSumExpCoefficient: number, positions: MetricPositions | undefined,
): SoftmaxLogitMetric {
  const { tokens, column } = tokenColumns(...tokenLists);
  return {
    kind: "softmax", positions, tokens,
    evaluate(tokenLogits, logSumExp, rows) {
      const width = tokens.length;
      const dTokenLogits = new Float64Array(rows * width);
      let value = 0;
      for (let r = 0; r < rows; r++) {
        for (const [token, coefficient] of termsOf(r, rows)) {
          const c = column.get(token)!;
          value += coefficient * tokenLogits[r * width + c]!;
          dTokenLogits[r * width + c] += coefficient / rows;
        }
        value += logSumExpCoefficient * logSumExp[r]!;
      }
      return { value: value / rows, dTokenLogits, dLogSumExp: new Float64Array(rows).fill(logSumExpCoefficient / rows) };
    },
  };
}

/** Mean over the read rows of logit[correct] − logit[incorrect] (TransformerLens's logit difference). */
export function logitDifferenceMetric(correct: RowTokens, incorrect: RowTokens, options: { positions?: MetricPositions } = {}): SoftmaxLogitMetric {
  const where = "logitDifferenceMetric";
  return linearTokenMetric([correct, incorrect], (r, rows) => [[tokenOfRow(correct, r, rows, where), 1], [tokenOfRow(incorrect, r, rows, where), -1]], 0, options.positions);
}

/** Mean over the read rows of log p(token) = logit[token] − logSumExp. */
export function logProbMetric(target: RowTokens, options: { positions?: MetricPositions } = {}): SoftmaxLogitMetric {
  return linearTokenMetric([target], (r, rows) => [[tokenOfRow(target, r, rows, "logProbMetric"), 1]], -1, options.positions);
}

/**
 * Mean over the read rows of Σ_t weight[row, t]·p(tokens[t]), p the full-vocabulary softmax: with
 * weights +1 and −1 it is a probability mass difference between two token sets (the greater-than
 * PD: +1 on years after YY, −1 on the others). `weights` is [rows, tokens.length], or a function of
 * the row giving that row's tokens.length weights.
 */
export function probabilityMassDifferenceMetric(
  tokens: readonly number[],
  weights: ArrayLike<number> | ((row: number) => ArrayLike<number>),
  options: { positions?: MetricPositions } = {},
): SoftmaxLogitMetric {
  const width = tokens.length;
  return {
    kind: "softmax", positions: options.positions, tokens,
    evaluate(tokenLogits, logSumExp, rows) {
      if (typeof weights !== "function" && weights.length !== rows * width) {
        throw new InputError(`probabilityMassDifferenceMetric: ${weights.length} weights for ${rows} rows × ${width} tokens`, "shape_mismatch");
      }
      const dTokenLogits = new Float64Array(rows * width);
      const dLogSumExp = new Float64Array(rows);
      let value = 0;
      for (let r = 0; r < rows; r++) {
        const rowWeights = typeof weights === "function" ? weights(r) : null;
        let mass = 0;
        for (let t = 0; t < width; t++) {
          const w = rowWeights === null ? (weights as ArrayLike<number>)[r * width + t]! : rowWeights[t]!;
          const p = Math.exp(tokenLogits[r * width + t]! - logSumExp[r]!);
          mass += w * p;
          dTokenLogits[r * width + t] = (w * p) / rows;
        }
        value += mass;
        dLogSumExp[r] = -mass / rows;
      }
      return { value: value / rows, dTokenLogits, dLogSumExp };
    },
  };
}
