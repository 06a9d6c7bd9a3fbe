/**
 * Padded batches (left and right, as TransformerLens's padding_side): each row's activations at
 * every hook point and its logits, on its real tokens, equal those of the row run alone.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { selectNodeBackend } from "../../src/backend/node-select.ts";
import type { PaddingSide } from "../../src/gpt2/padding.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { expectClose } from "../helpers/compare.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";
import { propertyParams } from "../helpers/property.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const { config } = model;

/** Values of row b at positions first…first+len−1 (axis 1; attention: real queries × real keys). */
function realPart(t: Tensor, b: number, first: number, len: number, name = ""): Float32Array {
  const out: number[] = [];
  if (name.endsWith("hook_pattern") || name.endsWith("hook_attn_scores")) {
    const heads = t.shape[1]!;
    for (let h = 0; h < heads; h++) {
      for (let q = first; q < first + len; q++) {
        for (let k = first; k < first + len; k++) out.push(t.get(b, h, q, k));
      }
    }
    return Float32Array.from(out);
  }
  const pos = t.shape[1]!;
  const inner = t.size / (t.shape[0]! * pos);
  return t.data.slice((b * pos + first) * inner, (b * pos + first + len) * inner);
}

const cases = fc.record({
  rows: fc.array(fc.array(fc.integer({ min: 0, max: config.dVocab - 1 }), { minLength: 1, maxLength: 12 }), { minLength: 2, maxLength: 3 }),
  side: fc.constantFrom<PaddingSide>("left", "right"),
});

describe("padded batches", () => {
  it("give each row, on its real tokens, the activations and logits of the row run alone", () => {
    fc.assert(
      fc.property(cases, ({ rows, side }) => {
        const padded = model.toTokens(rows, { paddingSide: side });
        const pos = padded.pos;
        const together = model.run(padded, { cache: true });
        rows.forEach((row, b) => {
          const first = side === "left" ? pos - row.length : 0;
          expect(together.lastTokenIndex[b]).toBe(first + row.length - 1);
          const alone = model.run([row], { cache: true });
          for (const [name, value] of alone.cache) {
            expectClose(realPart(together.cache.get(name), b, first, row.length, name), realPart(value, 0, 0, row.length, name), 1e-5, `${name} row ${b}`);
          }
          expectClose(realPart(together.logits, b, first, row.length), alone.logits.data, 1e-5, `logits row ${b}`);
          expectClose(together.lastTokenLogits().slice([b]).data, alone.lastTokenLogits().data, 1e-5, `last logits row ${b}`);
        });
        const anyPad = rows.some((r) => r.length !== pos);
        expect(together.attentionMask === null).toBe(!anyPad);
        for (const [name, value] of together.cache) {
          expect(value.data.every((v) => !Number.isNaN(v)), `${name} holds NaN`).toBe(true);
        }
      }),
      propertyParams("padded batches", 15),
    );
  });

  it("holds on the plain-TypeScript backend too (no wasm kernels)", async () => {
    const plain = new HookedGpt2(await loadGpt2FromDir(TINY_DIR, selectNodeBackend("reference")));
    const rows = [[3, 4], [5, 6, 7, 8, 9]];
    for (const paddingSide of ["left", "right"] as const) {
      const together = plain.run(plain.toTokens(rows, { paddingSide }), { cache: ["blocks.1.attn.hook_pattern"] });
      rows.forEach((row, b) => {
        expectClose(together.lastTokenLogits().slice([b]).data, plain.run([row]).lastTokenLogits().data, 1e-5, `${paddingSide} row ${b}`);
      });
      expect(together.cache.get("blocks.1.attn.hook_pattern").data.every((v) => !Number.isNaN(v))).toBe(true);
    }
    plain.dispose();
  });

  it("pads text as TransformerLens does: BOS first, the mask and last token per row", () => {
    const right = model.toTokens(["Hello", "The war lasted"]);
    expect(right.pos).toBe(4);
    expect(right.attentionMask?.toNested()).toEqual([[1, 1, 0, 0], [1, 1, 1, 1]]);
    expect(right.lastTokenIndex).toEqual([1, 3]);
    expect(Array.from(right.ids.slice(0, 4))).toEqual([50256, 15496, 50256, 50256]);
    const left = model.toTokens(["Hello", "The war lasted"], { paddingSide: "left", prependBos: false });
    expect(left.attentionMask?.toNested()).toEqual([[0, 0, 1], [1, 1, 1]]);
    expect(left.lastTokenIndex).toEqual([2, 2]);
    expect(model.toTokens(["a b", "c d"]).attentionMask).toBeNull();
  });

  it("runs strings: one prompt with BOS by default, a batch padded", () => {
    const text = "The war lasted from the year 1732 to the year 17";
    const ids = model.toTokens(text);
    expect(ids.ids[0]).toBe(50256);
    expect(model.run(text).logits.data).toEqual(model.run(Array.from(ids.ids)).logits.data);
    const noBos = model.run(text, { prependBos: false });
    expect(noBos.tokens?.pos).toBe(ids.pos - 1);
    const batch = model.run([text, "Hello"], { paddingSide: "left" });
    expectClose(batch.lastTokenLogits().slice([1]).data, model.run("Hello").lastTokenLogits().data, 1e-5, "Hello");
    const cache = model.runUntil(["a", "b c d"], "blocks.0.hook_resid_pre", { cache: ["hook_embed"] });
    expect(cache.get("hook_embed").shape).toEqual([2, 4, config.dModel]);
  });

  it("takes a hand-made mask, and rejects bad ones and text options on ids", () => {
    const rows = [[5, 6, 7], [0, 8, 9]];
    const byHand = model.run(rows, { attentionMask: [[1, 1, 1], [0, 1, 1]] });
    const viaPadding = model.run(model.toTokens([[5, 6, 7], [8, 9]], { paddingSide: "left", padTokenId: 0 }));
    expect(byHand.logits.data).toEqual(viaPadding.logits.data);
    expect(byHand.lastTokenIndex).toEqual([2, 2]);
    expect(() => model.run(rows, { attentionMask: [[1, 1], [1, 1]] })).toThrow(/attentionMask has shape \[2, 2\], expected \[2, 3\]/);
    expect(() => model.run(rows, { attentionMask: [[1, 2, 1], [1, 1, 1]] })).toThrow(/holds 2 at \[0, 1\]/);
    expect(() => model.run(rows, { prependBos: true })).toThrow(/apply to text input/);
    expect(() => model.run("a", { paddingSide: "middle" as PaddingSide })).toThrow(/paddingSide must be "left" or "right"/);
    expect(() => model.run([[1, 2], [3]])).toThrow(/differ in length/);
  });
});
