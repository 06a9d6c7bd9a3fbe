/** Shared by the GEMM tests (WasmGemm, WasmThreadPool): seeded operands, cases, and comparisons. */
import fc from "fast-check";
import { expect } from "vitest";
import { matmulReference } from "./reference-matmul.ts";

/** Deterministic data in [-1, 1) from a seed (xorshift32). */
export function data(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export function transpose(b: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(b.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = b[i * cols + j];
  return t;
}

/**
 * max |x - y| / `scale` (default max |y|; the absolute error when that is 0); NaN anywhere → Infinity.
 * For a product, pass the operands' {@link caseOperands} scale: a few outputs that cancel to near 0
 * make max |y| far smaller than the rounding errors of their sums (m = n = 1 with k = 65 did).
 */
export function relErr(x: Float32Array, y: Float32Array, scale?: number): number {
  expect(x.length).toBe(y.length);
  let err = 0;
  let yMax = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    if (Number.isNaN(d)) return Infinity;
    err = Math.max(err, d);
    yMax = Math.max(yMax, Math.abs(y[i]));
  }
  const by = scale ?? yMax;
  return by > 0 ? err / by : err;
}

/** One product out = a[m×k] · b[k×n] (+ bias) (+ out when accumulating), b packed as is or transposed. */
export interface Case {
  m: number;
  k: number;
  n: number;
  seed: number;
  bias: boolean;
  accumulate: boolean;
  transposed: boolean;
}

/** Random cases with each dimension in 1..max (maxK and maxN default to maxM). */
export const caseArb = (maxM: number, maxK = maxM, maxN = maxM): fc.Arbitrary<Case> =>
  fc.record({
    m: fc.integer({ min: 1, max: maxM }),
    k: fc.integer({ min: 1, max: maxK }),
    n: fc.integer({ min: 1, max: maxN }),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
    bias: fc.boolean(),
    accumulate: fc.boolean(),
    transposed: fc.boolean(),
  });

/**
 * A case's operands (seeds seed .. seed + 3), the initial out for accumulation, the reference result,
 * and `scale` for {@link relErr}: the largest output's Σ|a·b| + |bias| (+ |initial|), which float32
 * rounding errors are proportional to (k·2^-24 of it at most, below 1e-5 for k ≤ 160).
 */
export function caseOperands(c: Case): {
  a: Float32Array; b: Float32Array; bias: Float32Array | undefined; initial: Float32Array; expected: Float32Array; scale: number;
} {
  const a = data(c.m * c.k, c.seed);
  const b = data(c.k * c.n, c.seed + 1);
  const bias = c.bias ? data(c.n, c.seed + 2) : undefined;
  const initial = data(c.m * c.n, c.seed + 3);

  const expected = new Float32Array(c.m * c.n);
  matmulReference(a, c.m, c.k, b, c.n, expected, bias);
  if (c.accumulate) for (let i = 0; i < expected.length; i++) expected[i] += initial[i];
  const abs = (x: Float32Array): Float32Array => x.map(Math.abs);
  const magnitude = new Float32Array(c.m * c.n);
  matmulReference(abs(a), c.m, c.k, abs(b), c.n, magnitude, bias && abs(bias));
  let scale = 0;
  for (let i = 0; i < magnitude.length; i++) scale = Math.max(scale, magnitude[i] + (c.accumulate ? Math.abs(initial[i]) : 0));
  return { a, b, bias, initial, expected, scale };
}
