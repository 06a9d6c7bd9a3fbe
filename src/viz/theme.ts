/** Shared typography, colours and spacing so all figures look like one family. */
export const THEME = {
  fontFamily: "Helvetica, Arial, sans-serif",
  titleFontSize: 16,
  axisLabelFontSize: 13,
  tickFontSize: 11,
  captionFontSize: 12,
  legendFontSize: 11,
  textColor: "#222222",
  mutedTextColor: "#555555",
  axisColor: "#666666",
  gridColor: "#e6e6e6",
  background: "#ffffff",
  /** Outer padding around the whole figure. */
  padding: 16,
  /** Narrowest figure, so titles and captions have room even for tiny plots. */
  minimumWidth: 420,
  /** Longest tick label drawn in full; longer ones are cut with "…" (full text in the tooltip). */
  maxTickLabelCharacters: 28,
} as const;
