/** A linear map from a data domain [d0, d1] (d0 < d1) onto a pixel range [r0, r1]. */

import { clampForDrawing } from "./drawable-extent.ts";

export type LinearScale = (value: number) => number;

/** Values are clamped to ±1e300 first so the result is always finite for finite input. */
export function makeLinearScale(domain: readonly [number, number], range: readonly [number, number]): LinearScale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  return (value) => r0 + ((clampForDrawing(value) - d0) / (d1 - d0)) * (r1 - r0);
}
