/** Keeping data extents drawable: clamping huge magnitudes and widening empty or single-value extents. */

/** Largest magnitude drawn; beyond it values are clamped so that spans and scales stay finite. */
export const DRAWABLE_MAGNITUDE = 1e300;

/** Clamp a finite value into [-DRAWABLE_MAGNITUDE, DRAWABLE_MAGNITUDE]. */
export function clampForDrawing(value: number): number {
  return Math.max(-DRAWABLE_MAGNITUDE, Math.min(DRAWABLE_MAGNITUDE, value));
}

/** Expand a degenerate or empty data extent (of finite values) into a drawable [min, max] with min < max. */
export function drawableExtent(values: Iterable<number>, includeZero: boolean): [number, number] {
  let min = includeZero ? 0 : Infinity;
  let max = includeZero ? 0 : -Infinity;
  for (const rawValue of values) {
    const value = clampForDrawing(rawValue);
    if (value < min) min = value;
    if (value > max) max = value;
  }
  if (min > max) return [0, 1];
  if (min === max) {
    const pad = Math.max(Math.abs(min) / 2, 1e-12) || 1;
    return [min - pad, max + pad];
  }
  return [min, max];
}
