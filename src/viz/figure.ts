/** Figure: a named SVG with a caption, displayable inline in Jupyter (Deno kernel) as HTML: the SVG and its caption. */

import { captionedSvg } from "./captioned-svg.ts";
import { escapeXml } from "./escape-xml.ts";
import { figureInputError, requireString } from "./input-checks.ts";
import { JUPYTER_DISPLAY, type JupyterDisplayable, type MimeBundle } from "./jupyter-display.ts";

export interface FigureInit {
  /** Identifier: letters, digits, "-", "_" and "." only, so it works as a file stem (NAME.svg) and HTML id. */
  readonly name: string;
  /** A complete SVG document string, e.g. from heatmap(), barChart() or lineChart(). */
  readonly svg: string;
  readonly caption: string;
  /** A figure with nothing to draw (noteFigure): its SVG already states the caption, and a page shows the caption alone. */
  readonly note?: boolean;
}

const FIGURE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export class Figure implements JupyterDisplayable {
  readonly name: string;
  readonly svg: string;
  readonly caption: string;
  readonly note: boolean;

  constructor(init: FigureInit) {
    requireString("Figure", "name", init.name);
    if (!FIGURE_NAME.test(init.name)) {
      throw figureInputError(
        `Figure: name ${JSON.stringify(init.name)} must start with a letter or digit and contain only letters, digits, ".", "_" or "-"`,
      );
    }
    requireString("Figure", "svg", init.svg);
    if (!init.svg.trimStart().startsWith("<svg")) {
      throw figureInputError(`Figure: svg must be an SVG document starting with "<svg" (figure ${JSON.stringify(init.name)})`);
    }
    requireString("Figure", "caption", init.caption);
    this.name = init.name;
    this.svg = init.svg;
    this.caption = init.caption;
    this.note = init.note === true;
  }

  /** File name to save the SVG under, e.g. "probability-heatmap.svg". */
  get fileName(): string {
    return `${this.name}.svg`;
  }

  /** The SVG file to save: the chart with its caption below it and in <desc> (see captionedSvg); a note as it is. */
  get standaloneSvg(): string {
    this.#standalone ??= this.note ? this.svg : captionedSvg(this.svg, this.caption, this.name);
    return this.#standalone;
  }

  #standalone: string | undefined;

  /** The figure as an HTML `<figure>`: the SVG inline, then the caption. */
  toHtml(): string {
    return `<figure class="gpt2-lens-figure" style="margin:0"><div>${this.svg}</div><figcaption style="max-width:760px;font:13px sans-serif;color:#333;margin-top:4px">${escapeXml(this.caption)}</figcaption></figure>`;
  }

  /**
   * The MIME bundle Deno's Jupyter kernel displays: the SVG with its caption as HTML (no bare
   * image/svg+xml, which a front end could prefer and so drop the caption), and the caption as text.
   */
  [JUPYTER_DISPLAY](): MimeBundle {
    return { "text/html": this.toHtml(), "text/plain": `${this.name}: ${this.caption}` };
  }
}
