import { expect } from "vitest";

/** max |actual − expected| / max |expected|; equal infinities count as agreement. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) {
    throw new Error(`length ${actual.length} vs expected ${expected.length}`);
  }
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (!Number.isFinite(e)) {
      if (a !== e) return Infinity;
      continue;
    }
    maxAbs = Math.max(maxAbs, Math.abs(e));
    const diff = Math.abs(a - e);
    if (!(diff <= maxDiff)) maxDiff = Number.isNaN(diff) ? Infinity : diff;
  }
  return maxAbs === 0 ? maxDiff : maxDiff / maxAbs;
}

export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: number,
  label: string,
): void {
  const error = relativeError(actual, expected);
  expect(error, `${label}: relative error ${error}`).toBeLessThanOrEqual(tolerance);
}

/** Index of the first element whose bits differ (-1 if none); arrays of different lengths differ at the shorter length. */
export function firstBitDifference(x: Float32Array, y: Float32Array): number {
  const xb = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const yb = new Uint32Array(y.buffer, y.byteOffset, y.length);
  const n = Math.min(xb.length, yb.length);
  for (let i = 0; i < n; i++) if (xb[i] !== yb[i]) return i;
  return xb.length === yb.length ? -1 : n;
}
