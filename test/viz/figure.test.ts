import { describe, expect, it } from "vitest";
import { barChart } from "../../src/viz/bar-chart.ts";
import { Figure } from "../../src/viz/figure.ts";
import { htmlDisplay, JUPYTER_DISPLAY } from "../../src/viz/jupyter-display.ts";
import { expectBadFigureInput } from "./expect-bad-figure-input.ts";

const svg = barChart({ title: "PD", labels: ["model", "circuit"], values: [0.8, 0.7] });

describe("Figure", () => {
  it("displays as HTML holding the SVG and its caption through the registered Jupyter.display symbol", () => {
    const figure = new Figure({ name: "pd-bars", svg, caption: "PD of model & circuit <L0H0>" });
    expect(JUPYTER_DISPLAY).toBe(Symbol.for("Jupyter.display"));
    const display = (figure as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")];
    const bundle = display.call(figure);
    expect(Object.keys(bundle).sort()).toEqual(["text/html", "text/plain"]);
    const html = bundle["text/html"]!;
    expect(html).toBe(figure.toHtml());
    expect(html).toMatch(/^<figure [^>]*><div><svg/);
    expect(html).toContain(svg);
    expect(html).toMatch(/<figcaption[^>]*>PD of model &amp; circuit &lt;L0H0&gt;<\/figcaption><\/figure>$/);
    expect(html.indexOf(svg)).toBeLessThan(html.indexOf("<figcaption"));
    expect(bundle["text/plain"]).toBe("pd-bars: PD of model & circuit <L0H0>");
    expect(figure.fileName).toBe("pd-bars.svg");
    expect([figure.name, figure.caption]).toEqual(["pd-bars", "PD of model & circuit <L0H0>"]);
  });

  it("rejects names unusable as file stems or ids, and non-SVG markup", () => {
    for (const name of ["", "a b", "../x", "-x", "x/y", "<x>"]) {
      expectBadFigureInput(() => new Figure({ name, svg, caption: "" }), /Figure: name/);
    }
    expectBadFigureInput(() => new Figure({ name: "x", svg: "<html/>", caption: "" }), /Figure: svg/);
  });
});

describe("htmlDisplay", () => {
  it("returns a text/html MIME bundle", () => {
    const shown = htmlDisplay("<b>hi</b>");
    expect(shown.html).toBe("<b>hi</b>");
    expect(shown[Symbol.for("Jupyter.display") as typeof JUPYTER_DISPLAY]()).toEqual({ "text/html": "<b>hi</b>" });
  });
});
