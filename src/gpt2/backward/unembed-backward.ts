import { InputError } from "../../errors.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { checkVocabularyTokens } from "../components/unembed.ts";
import type { Gpt2Model } from "../model.ts";
import type { LogitMetric, MetricPositions } from "./logit-metrics.ts";

/** The rows [batch·pos] a metric reads, as flat indices b·pos + p in the metric's row order. */
export function metricRows(
  positions: MetricPositions | undefined, batch: number, pos: number, lastTokenIndex: readonly number[],
): Int32Array {
  const chosen = positions ?? "last";
  if (chosen === "all") return Int32Array.from({ length: batch * pos }, (_, i) => i);
  const perPrompt = chosen === "last" ? lastTokenIndex : chosen;
  if (!Array.isArray(perPrompt) || perPrompt.length !== batch) {
    throw new InputError(
      `metric positions: expected "last", "all" or one position per prompt (${batch}), got ${JSON.stringify(chosen)}`, "bad_metric",
    );
  }
  return Int32Array.from(perPrompt, (p: number, b) => {
    if (!Number.isInteger(p) || p < 0 || p >= pos) {
      throw new InputError(`metric positions[${b}] = ${p} is not a position of the prompt (0…${pos - 1})`, "bad_metric");
    }
    return b * pos + p;
  });
}

/**
 * The metric of logits [rows, d_vocab] (float32, as the forward's unembedding gives them) and its
 * gradient with respect to them. A softmax metric's log-sum-exps are accumulated in float64, and
 * its dense gradient is dLogSumExp·softmax plus its tokens' partials, written over the logits.
 */
export function metricWithLogitGradient(model: Gpt2Model, metric: LogitMetric, logits: Tensor): { value: number; dLogits: Tensor } {
  const [rows, vocab] = logits.shape as [number, number];
  if (metric.kind === "logits") {
    const { value, dLogits } = metric.evaluate(logits);
    if (dLogits.length !== logits.size) {
      throw new InputError(`metric gradient has ${dLogits.length} values for logits of ${rows} rows × ${vocab}`, "bad_metric");
    }
    return { value: checkedValue(value), dLogits: new Tensor(Float32Array.from(dLogits), logits.shape) };
  }
  const { tokens } = metric;
  checkVocabularyTokens(model, tokens, "metric tokens");
  const tokenLogits = new Float64Array(rows * tokens.length);
  const logSumExp = new Float64Array(rows);
  const data = logits.data;
  const exps = new Float32Array(logits.size);
  const sums = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * vocab;
    tokens.forEach((t, i) => (tokenLogits[r * tokens.length + i] = data[base + t]!));
    let max = -Infinity;
    for (let j = 0; j < vocab; j++) if (data[base + j]! > max) max = data[base + j]!;
    let sum = 0;
    for (let j = 0; j < vocab; j++) {
      const e = Math.exp(data[base + j]! - max);
      exps[base + j] = e;
      sum += e;
    }
    sums[r] = sum;
    logSumExp[r] = max + Math.log(sum);
  }
  const { value, dTokenLogits, dLogSumExp } = metric.evaluate(tokenLogits, logSumExp, rows);
  if (dTokenLogits.length !== rows * tokens.length || dLogSumExp.length !== rows) {
    throw new InputError(`metric partials have ${dTokenLogits.length} and ${dLogSumExp.length} values, expected ${rows * tokens.length} and ${rows}`, "bad_metric");
  }
  for (let r = 0; r < rows; r++) {
    const base = r * vocab;
    const factor = dLogSumExp[r]! / sums[r]!;
    for (let j = 0; j < vocab; j++) exps[base + j] = exps[base + j]! * factor;
    tokens.forEach((t, i) => (exps[base + t] = exps[base + t]! + dTokenLogits[r * tokens.length + i]!));
  }
  return { value: checkedValue(value), dLogits: new Tensor(exps, logits.shape) };
}

function checkedValue(value: number): number {
  if (typeof value !== "number") throw new InputError(`metric value must be a number, got ${typeof value}`, "bad_metric");
  return value;
}

/** Rows `rows` of x [n, width] → [rows.length, width]. */
export function gatherFlatRows(x: Tensor, rows: Int32Array): Tensor {
  const width = x.shape[x.rank - 1]!;
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(x.data.subarray(r * width, (r + 1) * width), i * width));
  return new Tensor(out, [rows.length, width]);
}

/** Adds rows [rows.length, width] into rows `rows` of a zero [total, width] → the shape `shape`. */
export function scatterFlatRows(x: Tensor, rows: Int32Array, shape: readonly number[]): Tensor {
  const width = x.shape[x.rank - 1]!;
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  rows.forEach((r, i) => {
    for (let j = 0; j < width; j++) out[r * width + j] += x.data[i * width + j]!;
  });
  return new Tensor(out, shape);
}
