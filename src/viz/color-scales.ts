/**
 * Colour scales for heatmaps (sequential viridis, diverging blue–white–red centred on 0) and the fixed
 * palettes used by bar and line charts. All colours are `#rrggbb` strings computed deterministically.
 */

export type ColorScaleKind = "sequential" | "diverging";

/** Maps a finite value to a colour; values outside the range are clamped to the end colours. */
export type ColorScale = (value: number) => string;

/** Viridis, sampled at 10 evenly spaced stops. */
const VIRIDIS_STOPS = [
  "#440154", "#482878", "#3e4989", "#31688e", "#26828e",
  "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725",
] as const;

/** ColorBrewer RdBu reversed (blue for negative, red for positive) with a pure white midpoint. */
const BLUE_WHITE_RED_STOPS = [
  "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#ffffff",
  "#fddbc7", "#f4a582", "#d6604d", "#b2182b",
] as const;

/** Fill of heatmap cells with no drawable value (null, NaN, ±Infinity), and their hatch stroke. */
export const MISSING_CELL_FILL = "#d9d9d9";
export const MISSING_CELL_HATCH = "#8c8c8c";
export const SKIPPED_CELL_FILL = "#f0f0f0";

/** Bar colours: ordinary bars and highlighted ("accent") bars. */
export const BAR_FILL = "#4c78a8";
export const ACCENT_FILL = "#e45756";

/** Tableau-10 categorical palette for line series; series beyond 10 reuse it with a dash pattern. */
export const CATEGORICAL_PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
] as const;

/** Dash patterns for the 1st, 2nd, 3rd… pass through the categorical palette. */
export const SERIES_DASH_PATTERNS = [undefined, "6 3", "2 2", "8 3 2 3"] as const;

/**
 * A colour scale over `range` = [min, max] (min < max).
 * Sequential: min → dark purple, max → yellow. Diverging: 0 → white, negatives fade to blue reaching
 * full blue at min, positives to red reaching full red at max (if the range excludes 0 only one side is used).
 */
export function makeColorScale(kind: ColorScaleKind, range: readonly [number, number]): ColorScale {
  const [min, max] = range;
  if (kind === "sequential") {
    return (value) => interpolateStops(VIRIDIS_STOPS, (value - min) / (max - min));
  }
  return (value) => {
    if (value < 0) return interpolateStops(BLUE_WHITE_RED_STOPS, min < 0 ? 0.5 - 0.5 * (value / min) : 0.5);
    if (value > 0) return interpolateStops(BLUE_WHITE_RED_STOPS, max > 0 ? 0.5 + 0.5 * (value / max) : 0.5);
    return interpolateStops(BLUE_WHITE_RED_STOPS, 0.5);
  };
}

/** Default range: data extent (sequential) or symmetric ±max|value| (diverging); never degenerate. */
export function defaultColorRange(kind: ColorScaleKind, dataMin: number, dataMax: number): [number, number] {
  if (kind === "diverging") {
    const magnitude = Math.max(Math.abs(dataMin), Math.abs(dataMax));
    return magnitude > 0 ? [-magnitude, magnitude] : [-1, 1];
  }
  if (dataMin < dataMax) return [dataMin, dataMax];
  const pad = Math.abs(dataMin) / 2 || 1;
  return [dataMin - pad, dataMax + pad];
}

function interpolateStops(stops: readonly string[], fraction: number): string {
  const t = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const position = t * (stops.length - 1);
  const index = Math.min(stops.length - 2, Math.floor(position));
  const local = position - index;
  const from = parseHex(stops[index]);
  const to = parseHex(stops[index + 1]);
  return toHex(from.map((channel, i) => channel + (to[i] - channel) * local));
}

function parseHex(color: string): number[] {
  return [1, 3, 5].map((offset) => parseInt(color.slice(offset, offset + 2), 16));
}

function toHex(channels: readonly number[]): string {
  return `#${channels.map((c) => Math.round(c).toString(16).padStart(2, "0")).join("")}`;
}
