/**
 * The greater-than report in a real browser: `gpt2-lens greater-than` writes the report of the bundled
 * model, headless Chromium (Debian's /usr/bin/chromium, driven by puppeteer-core) opens index.html and
 * every SVG file from file://, and what the browser lays out is checked: every figure has a size, no
 * text runs out of its figure or its box, the page loads nothing from the network and logs no error.
 * Skipped, saying why, only where Chromium is not installed (.ci/run installs it).
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { circuitDiagram } from "../../src/viz/circuit-diagram.ts";
import { runCli } from "../helpers/cli.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";
import { CHROMIUM_SKIP_REASON, HAS_CHROMIUM, launchChromium } from "../helpers/chromium.ts";

if (!HAS_CHROMIUM) console.warn(`greater-than report browser test skipped: ${CHROMIUM_SKIP_REASON}`);

/** Sub-pixel slack: rounding of glyph boxes, not overflow. */
const SLACK = 1;

/**
 * In the page (a string, as the tests' TypeScript has no DOM library): for each SVG root (inline in
 * the page, or the document itself), the <text> elements whose box leaves the root's box.
 */
const SVG_TEXT_OVERFLOW = `(() => {
  const roots = document.documentElement.tagName === "svg"
    ? [document.documentElement]
    : [...document.querySelectorAll("figure > svg")];
  const out = [];
  for (const root of roots) {
    const box = root.getBoundingClientRect();
    const name = root.closest ? (root.closest("figure")?.id ?? "document") : "document";
    for (const text of root.querySelectorAll("text")) {
      const r = text.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - ${SLACK} || r.right > box.right + ${SLACK} || r.top < box.top - ${SLACK} || r.bottom > box.bottom + ${SLACK}) {
        out.push(name + ": \\"" + text.textContent + "\\" at " + [r.left, r.top, r.right, r.bottom].map(Math.round) + " outside " + [box.left, box.top, box.right, box.bottom].map(Math.round));
      }
    }
  }
  return out;
})()`;

/** Each <figure>: its id, its box, and whether its picture (inline <svg> or <img>) has drawn. */
const FIGURE_BOXES = `[...document.querySelectorAll("figure")].map((figure) => {
  const box = figure.getBoundingClientRect();
  const svg = figure.querySelector(":scope > svg");
  const img = figure.querySelector("img");
  const picture = svg ? svg.getBoundingClientRect() : img ? img.getBoundingClientRect() : null;
  return {
    id: figure.id,
    note: figure.classList.contains("note"),
    width: box.width,
    height: box.height,
    picture: picture ? [picture.width, picture.height] : null,
    loaded: img ? img.complete && img.naturalWidth > 0 : true,
  };
})`;

/** HTML boxes whose content is wider than the box (text that would be cut off or scroll). */
const HTML_OVERFLOW = `[...document.querySelectorAll("h1, h2, p, figcaption, caption, th, td, nav, li, table")]
  .filter((el) => el.scrollWidth > el.clientWidth + ${SLACK} && getComputedStyle(el).overflowX !== "auto")
  .map((el) => el.tagName + ": " + el.textContent.slice(0, 60) + " (" + el.scrollWidth + " > " + el.clientWidth + ")")
  .concat(document.documentElement.scrollWidth > window.innerWidth ? ["page: scrolls sideways (" + document.documentElement.scrollWidth + " > " + window.innerWidth + ")"] : [])`;

describe.skipIf(!HAS_CHROMIUM)(`greater-than report in headless Chromium${HAS_CHROMIUM ? "" : ` (skipped: ${CHROMIUM_SKIP_REASON})`}`, () => {
  let work: string;
  let out: string;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];
  const requests: string[] = [];

  /** Errors, failed loads and warnings that a page reports. */
  function watch(target: Page, where: () => string): void {
    target.on("pageerror", (error) => problems.push(`${where()}: page error ${String(error)}`));
    target.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warn") problems.push(`${where()}: console ${message.type()} ${message.text()}`);
    });
    target.on("requestfailed", (request) => problems.push(`${where()}: failed to load ${request.url()}`));
    target.on("request", (request) => requests.push(request.url()));
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "gpt2-lens-report-browser-"));
    out = join(work, "report");
    const cli = await runCli(["greater-than", "--n", "100", "--baseline-n", "300", "--baseline-batch", "100", "--out", out], {}, 280_000);
    expect(cli.status, cli.stderr.slice(-2000)).toBe(0);
    browser = await launchChromium(work);
    page = await browser.newPage();
    watch(page, () => "index.html");
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(pathToFileURL(join(out, "index.html")).href, { waitUntil: "load" });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("opens with the summary and a table of contents whose links all lead somewhere", async () => {
    const order = await page.evaluate(`[...document.querySelectorAll("body > section, body > nav")].map((el) => el.id || el.tagName)`) as string[];
    expect(order.slice(0, 2)).toEqual(["summary", "NAV"]);
    const summary = await page.evaluate(`document.querySelector("#summary").textContent`) as string;
    for (const words of [
      "computes greater-than?", "probability difference (PD)", "cutoff sharpness (CS)", "circuit heads at END", "fraction of the model's PD",
      "paper's evaluation", "PD, 300 unbalanced prompts", "random head sets reaching the circuit's PD", "SHA-256",
    ]) {
      expect(summary).toContain(words);
    }
    const targets = await page.evaluate(`[...document.querySelectorAll("nav a")].map((a) => [a.getAttribute("href"), !!document.getElementById(a.getAttribute("href").slice(1))])`) as [string, boolean][];
    expect(targets.length).toBeGreaterThanOrEqual(8);
    for (const [href, found] of targets) expect(found, href).toBe(true);
  });

  it("gives every figure a non-zero size, every picture drawn", async () => {
    const figures = await page.evaluate(FIGURE_BOXES) as { id: string; note: boolean; width: number; height: number; picture: number[] | null; loaded: boolean }[];
    expect(figures.length).toBeGreaterThanOrEqual(20);
    expect(figures.map((f) => f.id)).toEqual(expect.arrayContaining(["circuit-diagram", "probability-slice", "random-circuit-control", "large-baseline-heatmap"]));
    for (const figure of figures) {
      expect(figure.width * figure.height, figure.id).toBeGreaterThan(0);
      expect(figure.loaded, `${figure.id} image loaded`).toBe(true);
      if (figure.note) continue;
      expect(figure.picture, `${figure.id} has a picture`).not.toBeNull();
      expect(figure.picture![0]! * figure.picture![1]!, figure.id).toBeGreaterThan(100);
    }
  });

  it("keeps all text inside its figure or box, at a wide and at a narrow window", async () => {
    for (const width of [1200, 700]) {
      await page.setViewport({ width, height: 900 });
      expect(await page.evaluate(SVG_TEXT_OVERFLOW), `inline SVG text at ${width}px`).toEqual([]);
      expect(await page.evaluate(HTML_OVERFLOW), `HTML text at ${width}px`).toEqual([]);
    }
    await page.setViewport({ width: 1200, height: 900 });
  });

  it("keeps the text of every SVG file (captions included) inside its drawing", async () => {
    const files = readdirSync(out).filter((name) => name.endsWith(".svg"));
    expect(files.length).toBeGreaterThanOrEqual(20);
    const svgPage = await browser!.newPage();
    let current = "";
    watch(svgPage, () => current);
    try {
      for (const file of files) {
        current = file;
        await svgPage.goto(pathToFileURL(join(out, file)).href, { waitUntil: "load" });
        expect(await svgPage.evaluate(SVG_TEXT_OVERFLOW), file).toEqual([]);
      }
    } finally {
      await svgPage.close();
    }
  }, 120_000);

  it("the checks themselves catch text outside its figure, a clipped cell and an empty figure", async () => {
    const probe = await browser!.newPage();
    try {
      await probe.setViewport({ width: 600, height: 600 });
      await probe.setContent(
        `<!DOCTYPE html><body><figure id="wide"><svg xmlns="http://www.w3.org/2000/svg" width="200" height="50" viewBox="0 0 200 50">` +
          `<text x="150" y="30" font-size="16">sticks out past the edge</text></svg></figure>` +
          `<figure id="empty"><svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"></svg></figure>` +
          `<table style="width: 100px; table-layout: fixed"><tr><td style="overflow: hidden">${"x".repeat(80)}</td></tr></table></body>`,
      );
      expect((await probe.evaluate(SVG_TEXT_OVERFLOW) as string[]).join("\n")).toMatch(/^wide: "sticks out past the edge"/);
      expect((await probe.evaluate(HTML_OVERFLOW) as string[]).join("\n")).toMatch(/^TD: x+ \(\d+ > \d+\)/);
      const empty = (await probe.evaluate(FIGURE_BOXES) as { id: string; picture: number[] }[]).find((f) => f.id === "empty")!;
      expect(empty.picture[0]! * empty.picture[1]!).toBe(0);
    } finally {
      await probe.close();
    }
  });

  it("keeps a one-row circuit diagram's legend (taller than its plot) inside the drawing", async () => {
    const svg = circuitDiagram({
      title: "A circuit of one MLP",
      columns: ["at END"],
      rows: ["layer 0 MLP"],
      nodes: [{ id: "m", label: "MLP0", kind: "mlp", column: 0, row: 0 }],
      edges: [],
      valueLabel: "Δ PD",
    });
    const probe = await browser!.newPage();
    try {
      await probe.setContent(`<!DOCTYPE html><body><figure id="diagram">${svg}</figure></body>`);
      expect(await probe.evaluate(SVG_TEXT_OVERFLOW)).toEqual([]);
    } finally {
      await probe.close();
    }
  });

  it("a model that does not compute greater-than: the summary says so, each skipped section says why, no text overflows", async () => {
    const tiny = join(work, "tiny");
    const cli = await runCli(["greater-than", "--model", TINY_DIR, "--n", "97", "--out", tiny], {}, 120_000);
    expect(cli.status, cli.stderr.slice(-2000)).toBe(0);
    const tinyPage = await browser!.newPage();
    watch(tinyPage, () => "tiny index.html");
    try {
      await tinyPage.setViewport({ width: 1200, height: 900 });
      await tinyPage.goto(pathToFileURL(join(tiny, "index.html")).href, { waitUntil: "load" });
      expect(await tinyPage.evaluate(`document.querySelector("#summary").textContent`)).toContain("does not compute greater-than");
      const sections = await tinyPage.evaluate(`[...document.querySelectorAll("body > section")].map((s) => [s.id, s.querySelectorAll("figure:not(.note), table").length, [...s.querySelectorAll("figure.note")].map((f) => f.textContent)])`) as [string, number, string[]][];
      for (const id of ["circuit", "path-patching", "head-inputs", "evaluations", "random-circuits"]) {
        const [, drawn, notes] = sections.find(([sid]) => sid === id)!;
        expect(drawn, id).toBe(0);
        expect(notes.join(" "), id).toContain("not computed, because the model does not compute greater-than");
      }
      const figures = await tinyPage.evaluate(FIGURE_BOXES) as { id: string; width: number; height: number }[];
      for (const figure of figures) expect(figure.width * figure.height, figure.id).toBeGreaterThan(0);
      expect(await tinyPage.evaluate(SVG_TEXT_OVERFLOW)).toEqual([]);
      expect(await tinyPage.evaluate(HTML_OVERFLOW)).toEqual([]);
    } finally {
      await tinyPage.close();
    }
  }, 150_000);

  it("logs no error, fails no load and fetches nothing from the network", () => {
    expect(problems).toEqual([]);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((url) => !url.startsWith("file:"))).toEqual([]);
  });
});
