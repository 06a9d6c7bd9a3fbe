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
