/**
 * Rich display in Jupyter kernels that honour the `Symbol.for("Jupyter.display")` protocol (Deno's kernel:
 * `Deno.jupyter.$display` is that same registered symbol). An object with a method under this key, left as
 * the last expression of a cell, is shown using the MIME bundle the method returns.
 * Nothing here references the `Deno` global, so it runs unchanged in Node, Deno and browsers.
 */

/** The registered symbol Jupyter JavaScript kernels look up (same value in every realm). */
export const JUPYTER_DISPLAY = Symbol.for("Jupyter.display");

/** A MIME bundle, e.g. { "text/html": "<b>hi</b>" }. */
export type MimeBundle = Record<string, string>;

/** Anything a Jupyter JavaScript kernel can display richly. */
export interface JupyterDisplayable {
  [JUPYTER_DISPLAY](): MimeBundle;
}

/** An HTML snippet that notebooks render as HTML. */
export interface HtmlDisplay extends JupyterDisplayable {
  readonly html: string;
}

/** Wrap trusted HTML markup so a notebook cell renders it: returns { "text/html": html } on display. */
export function htmlDisplay(html: string): HtmlDisplay {
  return {
    html,
    [JUPYTER_DISPLAY]: () => ({ "text/html": html }),
  };
}
