import { JUPYTER_DISPLAY_SYMBOL } from "../../patching/html-grid.ts";

/** Something a notebook (Deno's Jupyter kernel) shows as HTML; JSON.stringify ignores the symbol. */
export interface HtmlDisplayed {
  [JUPYTER_DISPLAY_SYMBOL](): { "text/html": string };
}

/** `value` with a notebook display rendering `html(value)`. */
export function withHtmlDisplay<T extends object>(value: T, html: (value: T) => string): T & HtmlDisplayed {
  return Object.assign(value, { [JUPYTER_DISPLAY_SYMBOL]: () => ({ "text/html": html(value) }) }) as T & HtmlDisplayed;
}
