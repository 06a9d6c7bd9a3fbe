/**
 * A run's `start`, `past` and `logitPositions` are checked before any work: bad ones are typed
 * errors naming the option and the value, and no hook fires.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2, type RunOptions } from "../../src/hooks/hooked-gpt2.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const { nLayers, nCtx, dModel, nHeads, dHead, dVocab } = model.config;

/** Runs with `options` plus a hook on every point; expects an InputError with `code` before any hook fired. */
function expectRejected(tokens: number[][], options: RunOptions, code: string): string {
  let fired = 0;
  let caught: unknown;
  try {
    model.run(tokens, { ...options, hooks: [[() => true, () => void fired++]] });
  } catch (error) {
    caught = error;
  }
  expect(caught, "expected an error").toBeInstanceOf(InputError);
  const error = caught as InputError;
  expect(error.code, error.message).toBe(code);
  expect(fired).toBe(0);
  return error.message;
}

const residual = (shape: number[]) => Tensor.zeros(shape);

describe("start", () => {
  it.each([1.5, -1, nLayers + 1, Number.NaN, "1"])("layer %s is bad_layer, naming the valid layers", (layer) => {
    const message = expectRejected([[1]], { start: { layer: layer as number, residual: residual([1, 3, dModel]) } }, "bad_layer");
    expect(message).toBe(`start.layer must be an integer in 0…${nLayers}, got ${typeof layer === "string" ? "string 1" : layer}`);
  });

  it.each([
    ["null", null, "null"],
    ["missing", undefined, "undefined undefined"],
    ["a Float32Array", new Float32Array(3 * dModel), "an object (Float32Array)"],
    ["a tensor-like object", { data: new Float32Array(3 * dModel), shape: [1, 3, dModel] }, "an object (Object)"],
  ])("a residual that is %s is bad_start", (_, value, described) => {
    const message = expectRejected([[1]], { start: { layer: 0, residual: value as unknown as Tensor } }, "bad_start");
    expect(message).toBe(`start.residual must be a Tensor [batch, pos, ${dModel}], got ${described}`);
  });

  it("a start that is no object is bad_start; null means no start", () => {
    expect(expectRejected([[1]], { start: 3 as never }, "bad_start")).toBe("start must be { layer, residual }, got number 3");
    expect(model.run([[1, 2]], { start: null as never }).logits.shape).toEqual([1, 2, dVocab]);
  });

  it.each([
    [[3, dModel], "shape_mismatch"],
    [[1, 3, 7], "shape_mismatch"],
    [[1, 3, dModel, 1], "shape_mismatch"],
    [[0, 3, dModel], "empty_prompt"],
    [[1, 0, dModel], "empty_prompt"],
    [[1, nCtx + 1, dModel], "prompt_too_long"],
  ])("a residual of shape %j is %s, naming the shape", (shape, code) => {
    const message = expectRejected([[1]], { start: { layer: 1, residual: residual(shape) } }, code);
    expect(message).toContain(code === "prompt_too_long" ? `${nCtx + 1} positions, more than the model's context of ${nCtx}` : `[${shape.join(", ")}]`);
  });

  it("a residual of n_ctx positions, and a start at n_layers (straight to ln_final), are fine", () => {
    expect(model.run([[1]], { start: { layer: 0, residual: residual([2, nCtx, dModel]) } }).logits.shape).toEqual([2, nCtx, dVocab]);
    expect(model.run([[1]], { start: { layer: nLayers, residual: residual([1, 3, dModel]) } }).logits.shape).toEqual([1, 3, dVocab]);
  });

  it("past keys that are not tensors are bad_past, naming the layer", () => {
    const kv = () => Array.from({ length: nLayers }, () => Tensor.zeros([1, 2, nHeads, dHead]));
    const keys = kv();
    (keys as unknown[])[1] = { shape: [1, 2, nHeads, dHead] };
    const message = expectRejected([[1, 2]], { past: { keys, values: kv() } }, "bad_past");
    expect(message).toBe("past keys of layer 1 is an object (Object), not a Tensor");
  });
});

describe("logitPositions", () => {
  it.each([
    [[3], "logitPositions[0] is 3"],
    [[0, -1], "logitPositions[1] is -1"],
    [[1.5], "logitPositions[0] is 1.5"],
    [[Number.NaN], "logitPositions[0] is NaN"],
    [[0, "1"], 'logitPositions[1] is string 1'],
  ])("%j is bad_position, naming the entry and the run's positions", (positions, named) => {
    const message = expectRejected([[1, 2, 3]], { logitPositions: positions as number[] }, "bad_position");
    expect(message).toBe(`${named}, not one of the run's positions 0…2`);
  });

  it("must be an array", () => {
    const message = expectRejected([[1, 2, 3]], { logitPositions: 2 as never }, "bad_position");
    expect(message).toBe("logitPositions must be an array of positions, got number 2");
  });

  it("counts the start residual's positions, and only the new ones after past keys and values", () => {
    expectRejected([[1]], { start: { layer: 1, residual: residual([1, 2, dModel]) }, logitPositions: [2] }, "bad_position");
    const past = {
      keys: Array.from({ length: nLayers }, () => Tensor.zeros([1, 3, nHeads, dHead])),
      values: Array.from({ length: nLayers }, () => Tensor.zeros([1, 3, nHeads, dHead])),
    };
    expect(expectRejected([[1, 2]], { past, logitPositions: [2] }, "bad_position")).toContain("positions 0…1");
    expect(model.run([[1, 2]], { past, logitPositions: [1] }).logits.shape).toEqual([1, 1, dVocab]);
  });

  it("may repeat positions, in any order: the logits' rows follow the list", () => {
    const tokens = [[5, 6, 7], [8, 9, 10]];
    const full = model.run(tokens).logits;
    const picked = model.run(tokens, { logitPositions: [2, 0, 2] }).logits;
    expect(picked.shape).toEqual([2, 3, dVocab]);
    for (let b = 0; b < 2; b++) {
      [2, 0, 2].forEach((p, i) => {
        const row = (t: Tensor, at: number) => t.data.subarray((b * t.shape[1]! + at) * dVocab, (b * t.shape[1]! + at + 1) * dVocab);
        expect(row(picked, i)).toEqual(row(full, p));
      });
    }
  });
});
