/** How many categories to skip between tick labels so that labels on a crowded axis do not collide. */

const LABEL_STRIDES = [1, 2, 5, 10, 20, 25, 50];

/**
 * The smallest stride from 1, 2, 5, 10, 20, 25, 50, 100, 200, ... such that labelling every stride-th
 * of evenly spaced positions (`spacing` pixels apart) leaves at least `minimumGap` pixels between labels.
 */
export function labelStride(spacing: number, minimumGap: number): number {
  if (!(spacing > 0) || !(minimumGap > spacing)) return 1;
  for (let scale = 1; ; scale *= 100) {
    for (const stride of LABEL_STRIDES) {
      if (stride * scale * spacing >= minimumGap) return stride * scale;
    }
  }
}
