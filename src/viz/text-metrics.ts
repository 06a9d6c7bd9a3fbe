/**
 * Approximate text measurement for layout without a font engine: every character is assumed to be
 * 0.6 em wide, which slightly overestimates typical sans-serif text and so errs towards roomy layouts.
 */

const AVERAGE_CHARACTER_WIDTH_EM = 0.6;

/** Estimated rendered width of `text` in pixels at `fontSize`. */
export function estimateTextWidth(text: string, fontSize: number): number {
  return Array.from(text).length * fontSize * AVERAGE_CHARACTER_WIDTH_EM;
}

/** Widest estimated width among `texts` (0 for none). */
export function widestTextWidth(texts: readonly string[], fontSize: number): number {
  let widest = 0;
  for (const text of texts) widest = Math.max(widest, estimateTextWidth(text, fontSize));
  return widest;
}

/** Shorten `text` to at most `maxCharacters` characters, ending with "…" when cut. */
export function truncateText(text: string, maxCharacters: number): string {
  const characters = Array.from(text);
  if (characters.length <= maxCharacters) return text;
  return `${characters.slice(0, Math.max(1, maxCharacters - 1)).join("")}…`;
}

/**
 * Greedy word wrap into lines no wider than `maxWidth` (a single over-long word gets a line of its own).
 * Explicit newlines start new lines; runs of whitespace collapse to one space.
 */
export function wrapText(text: string, maxWidth: number, fontSize: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split(/\r?\n/)) {
    let line = "";
    for (const word of paragraph.split(/\s+/).filter((w) => w !== "")) {
      const candidate = line === "" ? word : `${line} ${word}`;
      if (line !== "" && estimateTextWidth(candidate, fontSize) > maxWidth) {
        lines.push(line);
        line = word;
      } else {
        line = candidate;
      }
    }
    if (line !== "") lines.push(line);
  }
  return lines;
}
