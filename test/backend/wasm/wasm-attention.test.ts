/**
 * The run-time-generated WebAssembly SIMD attention kernels (src/backend/wasm/kernels/attention-kernel.ts)
 * against the plain-TypeScript loops of src/gpt2/components/attention.ts: random shapes (d_head 1–70, every
 * remainder mod 8, keys = pos or pos + up to 5), values with zeros, exact −∞ for masked scores,
 * exact skipping of zero weights (0 · ∞ never turns into NaN), a GPT-2-sized plane, chunking and
 * memory growth, and the backend plumbing.
 *
 * Tolerance: float32 accumulation (the reference sums scores in float64, so a dot product with
 * cancellation can lose relative accuracy), so each entry is compared relative to the size of its
 * terms: |got − want| ≤ 1e-5 · Σ|terms| (≥ 1e-5 · |want|).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/errors.ts";
import { attentionScores, mixValues } from "../../../src/gpt2/components/attention.ts";
import { createWasmBackend } from "../../../src/backend/wasm/wasm-backend.ts";
import type { ForwardKernels } from "../../../src/tensor/forward-kernels.ts";
import { referenceBackend } from "../../../src/backend/reference/reference-backend.ts";
import { Tensor } from "../../../src/tensor/tensor.ts";
import { generateAttentionModule } from "../../../src/backend/wasm/kernels/attention-kernel.ts";
import { WasmAttention } from "../../../src/backend/wasm/wasm-attention.ts";
import { createWasmForwardKernels } from "../../../src/backend/wasm/wasm-forward-kernels.ts";

const REL = 1e-5;

const WA = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array<ArrayBuffer>): boolean } }).WebAssembly;

function mustKernels(): ForwardKernels {
  const k = createWasmForwardKernels();
  if (k === null) throw new Error("createWasmForwardKernels() returned null (no wasm SIMD?)");
  return k;
}

function mustAttention(...args: Parameters<typeof WasmAttention.create>): WasmAttention {
  const a = WasmAttention.create(...args);
  if (a === null) throw new Error("WasmAttention.create() returned null (no wasm SIMD?)");
  return a;
}

/** xorshift32 in [0, 1). */
function rng(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Uniform in [−scale, scale] with a fraction pZero of exact zeros. */
function values(n: number, next: () => number, pZero: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = next() < pZero ? 0 : (next() * 2 - 1) * scale;
  return out;
}

interface Shape {
  batch: number;
  pos: number;
  extra: number;
  nHeads: number;
  dHead: number;
  seed: number;
  pZero: number;
  scale: number;
}

const shapeArb: fc.Arbitrary<Shape> = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  pos: fc.integer({ min: 1, max: 20 }),
  extra: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 })),
  nHeads: fc.integer({ min: 1, max: 4 }),
  dHead: fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(1, 3, 4, 7, 8, 9, 15, 16, 17, 64, 65)),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  pZero: fc.constantFrom(0, 0.1, 0.5, 1),
  scale: fc.constantFrom(1, 1e-3, 50),
});

/** Scores: |got − want| ≤ REL · scale · Σ_e |q_e k_e|, −∞ exactly where the reference has it. */
function expectScoresClose(got: Tensor, want: Tensor, q: Tensor, k: Tensor): void {
  expect(got.shape).toEqual(want.shape);
  const [batch, pos, nHeads, dHead] = q.shape as [number, number, number, number];
  const keys = k.shape[1]!;
  const scale = 1 / Math.sqrt(dHead);
  const row = nHeads * dHead;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < pos; i++) {
        for (let j = 0; j < keys; j++) {
          const at = ((b * nHeads + h) * pos + i) * keys + j;
          const g = got.data[at]!, w = want.data[at]!;
          if (!Number.isFinite(w)) {
            if (!Object.is(g, w)) expect.fail(`scores[${b},${h},${i},${j}] = ${g}, expected ${w}`);
            continue;
          }
          let mag = 0;
          for (let e = 0; e < dHead; e++) mag += Math.abs(q.data[(b * pos + i) * row + h * dHead + e]! * k.data[(b * keys + j) * row + h * dHead + e]!);
          if (!(Math.abs(g - w) <= REL * mag * scale) || (w === 0 && mag === 0 && !Object.is(g, w))) {
            expect.fail(`scores[${b},${h},${i},${j}] = ${g}, expected ${w} (terms ${mag * scale})`);
          }
        }
      }
    }
  }
}

/** z: |got − want| ≤ REL · Σ_j |p_j v_j|, exact when that sum is 0. */
function expectMixClose(got: Tensor, want: Tensor, pattern: Tensor, v: Tensor): void {
  expect(got.shape).toEqual(want.shape);
  const [batch, nHeads, pos, keys] = pattern.shape as [number, number, number, number];
  const dHead = v.shape[3]!;
  const row = nHeads * dHead;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < pos; i++) {
      for (let h = 0; h < nHeads; h++) {
        for (let e = 0; e < dHead; e++) {
          const at = (b * pos + i) * row + h * dHead + e;
          const g = got.data[at]!, w = want.data[at]!;
          if (!Number.isFinite(w)) {
            if (!Object.is(g, w)) expect.fail(`z[${b},${i},${h},${e}] = ${g}, expected ${w}`);
            continue;
          }
          let mag = 0;
          for (let j = 0; j < keys; j++) {
            const p = pattern.data[((b * nHeads + h) * pos + i) * keys + j]!;
            if (p !== 0) mag += Math.abs(p * v.data[(b * keys + j) * row + h * dHead + e]!);
          }
          if (!(Math.abs(g - w) <= REL * mag) || (mag === 0 && !Object.is(g, w))) {
            expect.fail(`z[${b},${i},${h},${e}] = ${g}, expected ${w} (terms ${mag})`);
          }
        }
      }
    }
  }
}

/** A causal softmax-like pattern: row i has nonzero weights only at j ≤ i + offset (some zeroed). */
function causalPattern(batch: number, nHeads: number, pos: number, keys: number, next: () => number, pZero: number): Float32Array {
  const out = new Float32Array(batch * nHeads * pos * keys);
  const offset = keys - pos;
  for (let plane = 0; plane < batch * nHeads; plane++) {
    for (let i = 0; i < pos; i++) {
      for (let j = 0; j <= i + offset && j < keys; j++) out[(plane * pos + i) * keys + j] = next() < pZero ? 0 : next();
    }
  }
  return out;
}

describe("generateAttentionModule", () => {
  it("emits a valid module", () => {
    expect(WA.validate(generateAttentionModule())).toBe(true);
  });
});

describe("wasm attention kernels vs the TypeScript loops", () => {
  const kernels = mustKernels();

  it("attentionScores: random shapes, −∞ exactly above the causal diagonal", () => {
    fc.assert(
      fc.property(shapeArb, (s) => {
        const next = rng(s.seed);
        const keys = s.pos + s.extra;
        const q = new Tensor(values(s.batch * s.pos * s.nHeads * s.dHead, next, s.pZero, s.scale), [s.batch, s.pos, s.nHeads, s.dHead]);
        const k = new Tensor(values(s.batch * keys * s.nHeads * s.dHead, next, s.pZero, s.scale), [s.batch, keys, s.nHeads, s.dHead]);
        const want = attentionScores(q, k);
        const got = attentionScores(q, k, kernels);
        expectScoresClose(got, want, q, k);
        // The mask itself, independently of the reference.
        const offset = s.extra;
        for (let plane = 0; plane < s.batch * s.nHeads; plane++) {
          for (let i = 0; i < s.pos; i++) {
            for (let j = 0; j < keys; j++) {
              const x = got.data[(plane * s.pos + i) * keys + j]!;
              if ((j > i + offset) !== (x === -Infinity)) expect.fail(`plane ${plane} [${i},${j}] = ${x}`);
            }
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it("mixValues: random shapes and causal patterns with zeros", () => {
    fc.assert(
      fc.property(shapeArb, fc.constantFrom(0, 0.2, 0.9), (s, pZeroWeight) => {
        const next = rng(s.seed);
        const keys = s.pos + s.extra;
        const pattern = new Tensor(causalPattern(s.batch, s.nHeads, s.pos, keys, next, pZeroWeight), [s.batch, s.nHeads, s.pos, keys]);
        const v = new Tensor(values(s.batch * keys * s.nHeads * s.dHead, next, s.pZero, s.scale), [s.batch, keys, s.nHeads, s.dHead]);
        expectMixClose(mixValues(pattern, v, kernels), mixValues(pattern, v), pattern, v);
      }),
      { numRuns: 150 },
    );
  });

  it("mixValues: arbitrary (non-causal, signed) patterns", () => {
    fc.assert(
      fc.property(shapeArb, (s) => {
        const next = rng(s.seed);
        const keys = s.pos + s.extra;
        const pattern = new Tensor(values(s.batch * s.nHeads * s.pos * keys, next, s.pZero, 1), [s.batch, s.nHeads, s.pos, keys]);
        const v = new Tensor(values(s.batch * keys * s.nHeads * s.dHead, next, 0.1, s.scale), [s.batch, keys, s.nHeads, s.dHead]);
        expectMixClose(mixValues(pattern, v, kernels), mixValues(pattern, v), pattern, v);
      }),
      { numRuns: 80 },
    );
  });

  it("mixValues skips zero weights exactly: ±∞ and NaN in v only reach rows that weight them", () => {
    const next = rng(7);
    const [batch, nHeads, pos, keys, dHead] = [2, 3, 9, 11, 13];
    const pattern = new Tensor(causalPattern(batch, nHeads, pos, keys, next, 0.3), [batch, nHeads, pos, keys]);
    const vData = values(batch * keys * nHeads * dHead, next, 0, 1);
    vData[5] = Infinity;
    vData[(keys - 1) * nHeads * dHead + 2] = -Infinity;
    vData[(batch * keys - 1) * nHeads * dHead + 7] = NaN;
    const v = new Tensor(vData, [batch, keys, nHeads, dHead]);
    const want = mixValues(pattern, v);
    const got = mixValues(pattern, v, kernels);
    expectMixClose(got, want, pattern, v);
    expect(want.data.some((x) => Number.isNaN(x)) || want.data.some((x) => !Number.isFinite(x))).toBe(true);
    expect(got.data.some((x) => Number.isFinite(x))).toBe(true);
  });

  it("a GPT-2-sized case (pos 128, d_head 64, 12 heads, batch 2) matches", () => {
    const next = rng(12345);
    const [batch, pos, nHeads, dHead] = [2, 128, 12, 64];
    const q = new Tensor(values(batch * pos * nHeads * dHead, next, 0.01, 2), [batch, pos, nHeads, dHead]);
    const k = new Tensor(values(batch * pos * nHeads * dHead, next, 0.01, 2), [batch, pos, nHeads, dHead]);
    const v = new Tensor(values(batch * pos * nHeads * dHead, next, 0.01, 2), [batch, pos, nHeads, dHead]);
    const scores = attentionScores(q, k, kernels);
    expectScoresClose(scores, attentionScores(q, k), q, k);
    // A softmax-like pattern from the reference scores.
    const pattern = new Float32Array(scores.size);
    for (let r = 0; r < batch * nHeads * pos; r++) {
      let sum = 0;
      for (let j = 0; j < pos; j++) sum += pattern[r * pos + j] = Math.exp(Math.min(scores.data[r * pos + j]!, 30));
      for (let j = 0; j < pos; j++) pattern[r * pos + j]! /= sum;
    }
    const p = new Tensor(pattern, [batch, nHeads, pos, pos]);
    expectMixClose(mixValues(p, v, kernels), mixValues(p, v), p, v);
  });

  it("ignores kernels for shapes the loops handle differently (mismatched operands)", () => {
    const q = Tensor.zeros([1, 2, 1, 3]);
    const k = Tensor.zeros([1, 2, 1, 4]);
    let called = false;
    const spy: ForwardKernels = { name: "spy", attentionScores: () => void (called = true), mixValues: () => void (called = true) };
    attentionScores(q, k, spy);
    mixValues(Tensor.zeros([1, 1, 2, 2]), Tensor.zeros([1, 3, 1, 4]), spy);
    expect(called).toBe(false);
  });
});

describe("WasmAttention", () => {
  it("chunks by batch element and grows its memory (results equal to one big chunk)", () => {
    const small = mustAttention({ chunkFloats: 1 });
    const big = mustAttention();
    const next = rng(99);
    const [batch, pos, keys, nHeads, dHead] = [5, 17, 19, 3, 21];
    const q = values(batch * pos * nHeads * dHead, next, 0.1, 1);
    const k = values(batch * keys * nHeads * dHead, next, 0.1, 1);
    const v = values(batch * keys * nHeads * dHead, next, 0.1, 1);
    const a = new Float32Array(batch * nHeads * pos * keys), b = new Float32Array(a.length);
    small.attentionScores(q, k, batch, pos, keys, nHeads, dHead, a);
    big.attentionScores(q, k, batch, pos, keys, nHeads, dHead, b);
    expect(a).toEqual(b);
    const za = new Float32Array(batch * pos * nHeads * dHead), zb = new Float32Array(za.length);
    const p = a.map((x) => (x === -Infinity ? 0 : x));
    big.mixValues(p, v, batch, pos, keys, nHeads, dHead, zb);
    small.mixValues(p, v, batch, pos, keys, nHeads, dHead, za);
    expect(za).toEqual(zb);
    // Growth: a larger call after a small one.
    const before = big.memoryBytes;
    const [B, P, H, D] = [4, 96, 8, 64];
    const out = new Float32Array(B * H * P * P);
    big.attentionScores(values(B * P * H * D, next, 0, 1), values(B * P * H * D, next, 0, 1), B, P, P, H, D, out);
    expect(big.memoryBytes).toBeGreaterThan(before);
    expect(out[1]).toBe(-Infinity);
    expect(Number.isFinite(out[0]!)).toBe(true);
  });

  it("rejects bad sizes and lengths with InputError", () => {
    const a = mustAttention();
    const f = new Float32Array(8);
    expect(() => a.attentionScores(f, f, 1, 2, 2, 1, 0, new Float32Array(4))).toThrow(InputError);
    expect(() => a.attentionScores(f, f, 1, 2, 2, 1, 4, new Float32Array(3))).toThrow(InputError);
    expect(() => a.mixValues(new Float32Array(4), f, 1, 2, 2, 1, 3, new Float32Array(6))).toThrow(InputError);
    expect(() => a.mixValues(new Float32Array(4), f, 1.5, 2, 2, 1, 4, f)).toThrow(InputError);
  });
});

describe("backend plumbing", () => {
  it("the wasm backend carries the kernels, the reference backend none", () => {
    const wasm = createWasmBackend();
    expect(wasm?.kernels?.attentionScores).toBeTypeOf("function");
    expect(wasm?.kernels?.mixValues).toBeTypeOf("function");
    expect(referenceBackend.kernels).toBeUndefined();
  });
});
