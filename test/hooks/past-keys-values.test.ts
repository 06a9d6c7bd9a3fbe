/**
 * Runs that continue earlier positions from their keys and values (RunOptions.past): the new
 * positions' activations equal those of one full run, on the tiny model; shapes and bad input.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { blockHook } from "../../src/gpt2/hook-names.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { sliceAxis } from "../../src/tensor/indexing.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { expectClose } from "../helpers/compare.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const { config } = model;
const layers = Array.from({ length: config.nLayers }, (_, layer) => layer);
const kvNames = layers.flatMap((layer) => [blockHook(layer, "attn.hook_k"), blockHook(layer, "attn.hook_v")]);

/** 1…3 prompts of 2…16 tokens and a split point 1…pos−1. */
const cases = fc
  .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 16 }))
  .chain(([batch, pos]) =>
    fc.tuple(
      fc.array(fc.array(fc.integer({ min: 0, max: config.dVocab - 1 }), { minLength: pos, maxLength: pos }), { minLength: batch, maxLength: batch }),
      fc.integer({ min: 1, max: pos - 1 }),
    ),
  );

describe("RunOptions.past", () => {
  it("continuing a prefix's keys and values gives the full run's activations and logits at the new positions", () => {
    fc.assert(
      fc.property(cases, ([rows, split]) => {
        const pos = rows[0]!.length;
        const full = model.run(rows, { cache: true });
        const prefix = model.runUntil(rows.map((r) => r.slice(0, split)), "ln_final.hook_scale", { cache: kvNames });
        const past = {
          keys: layers.map((layer) => prefix.get(blockHook(layer, "attn.hook_k"))),
          values: layers.map((layer) => prefix.get(blockHook(layer, "attn.hook_v"))),
        };
        const rest = model.run(rows.map((r) => r.slice(split)), { cache: true, past });
        expectClose(rest.logits.data, sliceAxis(full.logits, 1, split, pos).data, 1e-5, "logits");
        for (const name of ["hook_pos_embed", blockHook(config.nLayers - 1, "hook_resid_post"), blockHook(0, "attn.hook_z")] as const) {
          expectClose(rest.cache.get(name).data, sliceAxis(full.cache.get(name), 1, split, pos).data, 1e-5, name);
        }
        // Attention rows of the new queries cover every key position.
        const pattern = rest.cache.get(blockHook(0, "attn.hook_pattern"));
        expect(pattern.shape).toEqual([rows.length, config.nHeads, pos - split, pos]);
        expectClose(pattern.data, sliceAxis(full.cache.get(blockHook(0, "attn.hook_pattern")), 2, split, pos).data, 1e-5, "pattern");
        expect(rest.cache.get(blockHook(0, "attn.hook_k")).shape).toEqual([rows.length, pos - split, config.nHeads, config.dHead]);
      }),
      { numRuns: 10 },
    );
  });

  it("rejects past keys and values of the wrong shape, layer count or length", () => {
    const zeros = (shape: number[]) => new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    const good = (pastPos: number) => ({
      keys: layers.map(() => zeros([1, pastPos, config.nHeads, config.dHead])),
      values: layers.map(() => zeros([1, pastPos, config.nHeads, config.dHead])),
    });
    expect(() => model.run([[1, 2]], { past: { keys: [], values: [] } })).toThrow(/one tensor per layer/);
    const wrongBatch = good(3);
    expect(() => model.run([[1, 2], [3, 4]], { past: wrongBatch })).toThrow(/past keys of layer 0 have shape \[1, 3, .*expected \[2, 3/);
    const mixed = { ...good(3), values: layers.map(() => zeros([1, 2, config.nHeads, config.dHead])) };
    expect(() => model.run([[1, 2]], { past: mixed })).toThrow(/past values of layer 0/);
    expect(() => model.run([[1, 2]], { past: good(config.nCtx - 1) })).toThrow(/exceed the model's context/);
    expect(model.run([[1, 2]], { past: good(3) }).logits.shape).toEqual([1, 2, config.dVocab]);
  });
});
