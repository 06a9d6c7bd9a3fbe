/**
 * The attention backward kernels (attention-backward-kernel.ts) against the plain-TypeScript
 * reference (src/backend/reference/attention-backward.ts), fast-check over shapes — batch 1, odd
 * d_head, keys > pos (past keys, the causal offset), patterns with zeros (padded keys), maskedToo
 * on and off — within 1e-5 of the sum of the terms' magnitudes; operands in the workspace's memory
 * (in place) or plain arrays (staged); the worker pool's split bit-identical to one thread. The
 * reference itself against ndarray-ops-free float64 loops written from the definitions.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  referenceAttentionScoresBackward, referenceMixValuesBackward, referenceSoftmaxBackwardRows,
} from "../../../src/backend/reference/attention-backward.ts";
import { createWasmAttentionBackward } from "../../../src/backend/wasm/wasm-attention-backward.ts";
import { createParallelWasmBackend } from "../../../src/backend/wasm/threads/node-parallel-backend.ts";
import { firstBitDifference } from "../../helpers/compare.ts";
import { gemmWorkspace, uniformFrom, expectWithinScale } from "../../helpers/kernel-workspace.ts";
import { propertyParams } from "../../helpers/property.ts";

const ws = gemmWorkspace();
const single = createWasmAttentionBackward(ws)!;

const parallel = createParallelWasmBackend({ threads: 3, minParallelRowWork: 0 })!;
afterAll(() => parallel.close());

interface Case {
  batch: number; nHeads: number; pos: number; past: number; dHead: number; maskedToo: boolean; inMemory: boolean; seed: number;
}

const shapes = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  nHeads: fc.integer({ min: 1, max: 3 }),
  pos: fc.integer({ min: 1, max: 9 }),
  past: fc.integer({ min: 0, max: 5 }),
  dHead: fc.integer({ min: 1, max: 19 }),
  maskedToo: fc.boolean(),
  inMemory: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

/** Random operands; the pattern causal with some padded keys (zero columns), rows summing to 1. */
function operands(c: Case) {
  const r = uniformFrom(c.seed);
  const keys = c.pos + c.past;
  const d = c.nHeads * c.dHead;
  const fill = (n: number) => Float32Array.from({ length: n }, r);
  const pattern = new Float32Array(c.batch * c.nHeads * c.pos * keys);
  const padded = Array.from({ length: c.batch * keys }, () => r() > 0.7);
  for (let b = 0; b < c.batch; b++) {
    for (let h = 0; h < c.nHeads; h++) {
      for (let i = 0; i < c.pos; i++) {
        const row = ((b * c.nHeads + h) * c.pos + i) * keys;
        for (let j = 0; j <= i + c.past; j++) if (!padded[b * keys + j]) pattern[row + j] = Math.abs(r()) + 0.01;
        let sum = 0;
        for (let j = 0; j < keys; j++) sum += pattern[row + j]!;
        for (let j = 0; j < keys; j++) pattern[row + j] = sum === 0 ? 0 : pattern[row + j]! / sum;
      }
    }
  }
  return { keys, d, q: fill(c.batch * c.pos * d), k: fill(c.batch * keys * d), v: fill(c.batch * keys * d), dz: fill(c.batch * c.pos * d), pattern, dPattern: fill(pattern.length) };
}

function place(a: Float32Array, inMemory: boolean): Float32Array {
  if (!inMemory) return a.slice();
  const view = ws.alloc(Math.max(a.length, 1)).subarray(0, a.length);
  view.set(a);
  return view;
}

const abs = (a: Float32Array) => a.map(Math.abs);

describe("wasm attention backward kernels", () => {
  it("mixValuesBackward matches the reference (single thread, in place or staged)", () => {
    fc.assert(fc.property(shapes, (c) => {
      const o = operands(c);
      const want = { dP: new Float32Array(o.pattern.length), dV: new Float32Array(o.v.length) };
      referenceMixValuesBackward(o.dz, o.pattern, o.v, c.batch, c.pos, o.keys, c.nHeads, c.dHead, c.maskedToo, want.dP, want.dV);
      const scale = { dP: new Float32Array(o.pattern.length), dV: new Float32Array(o.v.length) };
      referenceMixValuesBackward(abs(o.dz), o.pattern, abs(o.v), c.batch, c.pos, o.keys, c.nHeads, c.dHead, c.maskedToo, scale.dP, scale.dV);
      const dP = place(new Float32Array(o.pattern.length).fill(Number.NaN), c.inMemory);
      const dV = place(new Float32Array(o.v.length).fill(Number.NaN), c.inMemory);
      single.mixValuesBackward(place(o.dz, c.inMemory), place(o.pattern, c.inMemory), place(o.v, c.inMemory), c.batch, c.pos, o.keys, c.nHeads, c.dHead, c.maskedToo, dP, dV);
      expectWithinScale(dP, want.dP, scale.dP, "dPattern");
      expectWithinScale(dV, want.dV, scale.dV, "dV");
    }), propertyParams("mixValuesBackward kernel", 150));
  });

  it("attentionScoresBackward matches the reference", () => {
    fc.assert(fc.property(shapes, (c) => {
      const o = operands(c);
      // dScores zero where the pattern is (masked), as maskScoreGradients leaves them.
      const dS = o.dPattern.map((g, i) => (o.pattern[i] === 0 ? 0 : g));
      const want = { dQ: new Float32Array(o.q.length), dK: new Float32Array(o.k.length) };
      referenceAttentionScoresBackward(dS, o.q, o.k, c.batch, c.pos, o.keys, c.nHeads, c.dHead, want.dQ, want.dK);
      const scale = { dQ: new Float32Array(o.q.length), dK: new Float32Array(o.k.length) };
      referenceAttentionScoresBackward(abs(dS), abs(o.q), abs(o.k), c.batch, c.pos, o.keys, c.nHeads, c.dHead, scale.dQ, scale.dK);
      const dQ = place(new Float32Array(o.q.length).fill(Number.NaN), c.inMemory);
      const dK = place(new Float32Array(o.k.length).fill(Number.NaN), c.inMemory);
      single.attentionScoresBackward(place(dS, c.inMemory), place(o.q, c.inMemory), place(o.k, c.inMemory), c.batch, c.pos, o.keys, c.nHeads, c.dHead, dQ, dK);
      expectWithinScale(dQ, want.dQ, scale.dQ, "dQ");
      expectWithinScale(dK, want.dK, scale.dK, "dK");
    }), propertyParams("attentionScoresBackward kernel", 150));
  });

  it("softmaxBackwardRows matches the reference, also in place", () => {
    fc.assert(fc.property(shapes, (c) => {
      const o = operands(c);
      const want = new Float32Array(o.pattern.length);
      referenceSoftmaxBackwardRows(o.pattern, o.dPattern, o.keys, want);
      const dot = new Float32Array(o.pattern.length);
      referenceSoftmaxBackwardRows(o.pattern, abs(o.dPattern), o.keys, dot);
      const scale = dot.map((x, i) => Math.abs(x) + 2 * o.pattern[i]! * Math.abs(o.dPattern[i]!) + 1e-7);
      const out = place(new Float32Array(want.length), c.inMemory);
      single.softmaxBackwardRows(place(o.pattern, c.inMemory), place(o.dPattern, c.inMemory), o.keys, out);
      expectWithinScale(out, want, scale, "dScores");
      const inPlace = place(o.dPattern, c.inMemory);
      single.softmaxBackwardRows(place(o.pattern, c.inMemory), inPlace, o.keys, inPlace);
      expectWithinScale(inPlace, want, scale, "dScores in place");
    }), propertyParams("softmaxBackwardRows kernel", 100));
  });

  it("on the worker pool equal the single-threaded kernels bit for bit", () => {
    expect(parallel.pool.waitUntilReady(60_000)).toBe(true);
    const pk = parallel.kernels!;
    fc.assert(fc.property(shapes, (c) => {
      const o = operands(c);
      const onPool = (a: Float32Array) => {
        const view = parallel.workspace!.alloc(Math.max(a.length, 1)).subarray(0, a.length);
        view.set(a);
        return view;
      };
      const [dP1, dV1, dP2, dV2] = [o.pattern.length, o.v.length, o.pattern.length, o.v.length].map((n) => new Float32Array(n));
      single.mixValuesBackward(o.dz, o.pattern, o.v, c.batch, c.pos, o.keys, c.nHeads, c.dHead, c.maskedToo, dP1!, dV1!);
      const [dP2m, dV2m] = [onPool(dP2!), onPool(dV2!)];
      pk.mixValuesBackward!(onPool(o.dz), onPool(o.pattern), onPool(o.v), c.batch, c.pos, o.keys, c.nHeads, c.dHead, c.maskedToo, dP2m, dV2m);
      expect(firstBitDifference(dP2m, dP1!)).toBe(-1);
      expect(firstBitDifference(dV2m, dV1!)).toBe(-1);
      const [dQ1, dK1] = [new Float32Array(o.q.length), new Float32Array(o.k.length)];
      single.attentionScoresBackward(o.dPattern, o.q, o.k, c.batch, c.pos, o.keys, c.nHeads, c.dHead, dQ1, dK1);
      const [dQ2, dK2] = [onPool(new Float32Array(o.q.length)), onPool(new Float32Array(o.k.length))];
      pk.attentionScoresBackward!(onPool(o.dPattern), onPool(o.q), onPool(o.k), c.batch, c.pos, o.keys, c.nHeads, c.dHead, dQ2, dK2);
      expect(firstBitDifference(dQ2, dQ1)).toBe(-1);
      expect(firstBitDifference(dK2, dK1)).toBe(-1);
      const s1 = new Float32Array(o.pattern.length);
      single.softmaxBackwardRows(o.pattern, o.dPattern, o.keys, s1);
      const s2 = onPool(new Float32Array(o.pattern.length));
      pk.softmaxBackwardRows!(onPool(o.pattern), onPool(o.dPattern), o.keys, s2);
      expect(firstBitDifference(s2, s1)).toBe(-1);
    }), propertyParams("attention backward on the pool", 60));
  });
});

describe("reference attention backward", () => {
  it("is the gradient of Σ G ⊙ (scores → softmax → mix) by central differences in float64", () => {
    // One plane: batch 1, 1 head, pos 3, past 2, dHead 3.
    const c: Case = { batch: 1, nHeads: 1, pos: 3, past: 2, dHead: 3, maskedToo: false, inMemory: false, seed: 7 };
    const o = operands(c);
    const keys = o.keys;
    const forward = (q: Float64Array, k: Float64Array, v: Float64Array): number => {
      let total = 0;
      for (let i = 0; i < c.pos; i++) {
        const s = Array.from({ length: keys }, (_, j) => (j <= i + c.past ? [0, 1, 2].reduce((a, e) => a + q[i * 3 + e]! * k[j * 3 + e]!, 0) / Math.sqrt(3) : -Infinity));
        const m = Math.max(...s);
        const ex = s.map((x) => Math.exp(x - m));
        const sum = ex.reduce((a, b) => a + b, 0);
        for (let e = 0; e < 3; e++) total += o.dz[i * 3 + e]! * ex.reduce((a, p, j) => a + (p / sum) * v[j * 3 + e]!, 0);
      }
      return total;
    };
    const q64 = Float64Array.from(o.q), k64 = Float64Array.from(o.k), v64 = Float64Array.from(o.v);
    const pattern = new Float32Array(c.pos * keys);
    for (let i = 0; i < c.pos; i++) {
      const s = Array.from({ length: keys }, (_, j) => (j <= i + c.past ? [0, 1, 2].reduce((a, e) => a + q64[i * 3 + e]! * k64[j * 3 + e]!, 0) / Math.sqrt(3) : -Infinity));
      const m = Math.max(...s);
      const ex = s.map((x) => Math.exp(x - m));
      const sum = ex.reduce((a, b) => a + b, 0);
      ex.forEach((x, j) => void (pattern[i * keys + j] = x / sum));
    }
    const dP = new Float32Array(pattern.length), dV = new Float32Array(o.v.length);
    referenceMixValuesBackward(o.dz, pattern, o.v, 1, c.pos, keys, 1, 3, false, dP, dV);
    const dS = new Float32Array(pattern.length);
    referenceSoftmaxBackwardRows(pattern, dP, keys, dS);
    const dQ = new Float32Array(o.q.length), dK = new Float32Array(o.k.length);
    referenceAttentionScoresBackward(dS, o.q, o.k, 1, c.pos, keys, 1, 3, dQ, dK);
    const h = 1e-6;
    const check = (x: Float64Array, grad: Float32Array) => {
      for (let i = 0; i < x.length; i++) {
        const keep = x[i]!;
        x[i] = keep + h;
        const up = forward(q64, k64, v64);
        x[i] = keep - h;
        const down = forward(q64, k64, v64);
        x[i] = keep;
        expect(grad[i]).toBeCloseTo((up - down) / (2 * h), 4);
      }
    };
    check(q64, dQ);
    check(k64, dK);
    check(v64, dV);
  });
});
