/**
 * The attention viewer in a real browser: `gpt2-lens attention` writes the page, headless Chromium
 * (Debian's /usr/bin/chromium, driven by puppeteer-core) opens it from file://, a head is clicked and
 * a token hovered, and what the page then shows is checked against the patterns of a hooked run made
 * here, not against the page's own data. Skipped, saying why, only where Chromium is not installed
 * (.ci/run installs it).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { toStrTokens, toTokens } from "../../src/gpt2/tokenizer.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { attentionViewerData } from "../../src/viz/attention-viewer-data.ts";
import { attentionViewerHtml } from "../../src/viz/attention-viewer-html.ts";
import { runCliSync } from "../helpers/cli.ts";
import { CHROMIUM_SKIP_REASON as SKIP_REASON, HAS_CHROMIUM, launchChromium } from "../helpers/chromium.ts";
import { BUNDLED_MODEL_DIR } from "../helpers/fixtures.ts";
if (!HAS_CHROMIUM) console.warn(`attention viewer browser test skipped: ${SKIP_REASON}`);

const PROMPT = "<|endoftext|> The war lasted from the year 1732 to the year 17";
const FOCUS = 8; // the YY token, "32"
/** The page shows 3 decimals: a shown value is the pattern's within half a unit of the last one. */
const SHOWN_TOLERANCE = 0.0005 + 1e-6;

/** The little of the DOM these checks touch (the tests' TypeScript has no DOM library). */
interface StyledElement { readonly style: { readonly background: string } }
interface Canvas2d {
  readonly width: number;
  readonly height: number;
  getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { readonly data: Uint8ClampedArray } } | null;
}

/** What a page element shows, read in the page. */
const textOf = (page: Page, selector: string): Promise<string> => page.$eval(selector, (element) => element.textContent ?? "");
const textsOf = (page: Page, selector: string): Promise<string[]> =>
  page.$$eval(selector, (elements) => elements.map((element) => element.textContent ?? ""));

describe.skipIf(!HAS_CHROMIUM)(`attention viewer in headless Chromium${HAS_CHROMIUM ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  let work: string;
  let browser: Browser | undefined;
  let page: Page;
  let patterns: Tensor[];
  const tokens = toStrTokens(toTokens(PROMPT));
  const pageErrors: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "gpt2-lens-attention-browser-"));
    const out = join(work, "attention.html");
    const cli = runCliSync(["attention", "--prompt", PROMPT, "--out", out]);
    expect(cli.stderr).toBe("");
    expect(cli.status).toBe(0);

    const model = new HookedGpt2(await loadGpt2FromDir(BUNDLED_MODEL_DIR));
    const names = [0, 1, 2, 3, 4, 5].map((layer) => `blocks.${layer}.attn.hook_pattern` as const);
    const { cache } = model.run(toTokens(PROMPT), { cache: names });
    patterns = names.map((name) => cache.get(name));
    model.dispose();

    browser = await launchChromium(work);
    page = await browser.newPage();
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("request", (request) => requests.push(request.url()));
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(pathToFileURL(out).href, { waitUntil: "load" });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Pattern weight of layer L, head H, query q, key k from the hooked run. */
  const weight = (layer: number, head: number, query: number, key: number): number => patterns[layer]!.get(0, head, query, key);

  function expectShown(shown: string, expected: number, what: string): void {
    expect(shown, what).toMatch(/^\d\.\d{3}$/);
    expect(Math.abs(Number(shown) - expected), `${what}: shows ${shown}, the run gives ${expected}`).toBeLessThanOrEqual(SHOWN_TOLERANCE);
  }

  /** The token strip's numbers for the focused token under layer L, head H, checked position by position. */
  async function expectTokenValues(layer: number, head: number): Promise<void> {
    const to = await textsOf(page, ".gl-token .gl-to");
    const from = await textsOf(page, ".gl-token .gl-from");
    expect(to).toHaveLength(tokens.length);
    for (let pos = 0; pos < tokens.length; pos++) {
      if (pos <= FOCUS) expectShown(to[pos]!, weight(layer, head, FOCUS, pos), `L${layer}H${head}: ${FOCUS} attends to ${pos}`);
      else expect(to[pos], `nothing after the focused token is attended to`).toBe("");
      if (pos >= FOCUS) expectShown(from[pos]!, weight(layer, head, pos, FOCUS), `L${layer}H${head}: ${pos} attends to ${FOCUS}`);
      else expect(from[pos], `no earlier token attends to the focused one`).toBe("");
    }
  }

  it("shows the prompt's tokens and a 6 × 4 head grid (the bundled model's layers × heads), L0H0 first, with no errors and no network", async () => {
    expect(await textsOf(page, ".gl-token-text")).toEqual(tokens.map((token) => token.replace(/\n/g, "\\n")));
    const labels = await page.$$eval("button.gl-head", (buttons) => buttons.map((button) => button.getAttribute("data-label")));
    expect(labels).toEqual([0, 1, 2, 3, 4, 5].flatMap((layer) => [0, 1, 2, 3].map((head) => `L${layer}H${head}`)));
    expect(await textOf(page, ".gl-heatmap-title")).toBe("L0H0 attention pattern (rows: query, columns: key)");
    expect(await page.$(".gl-needs-script"), "the no-script notice is removed").toBeNull();
    expect(pageErrors).toEqual([]);
    expect(requests.every((url) => url.startsWith("file:"))).toBe(true);
  });

  it("after clicking L1H2 and hovering a token, shows that head's title and the run's weights from and to the token", async () => {
    await page.click('button.gl-head[data-label="L1H2"]');
    await page.hover(`.gl-token[data-pos="${FOCUS}"]`);

    expect(await textOf(page, ".gl-heatmap-title")).toBe("L1H2 attention pattern (rows: query, columns: key)");
    const pressed = await page.$$eval('button.gl-head[aria-pressed="true"]', (buttons) => buttons.map((button) => button.getAttribute("data-label")));
    expect(pressed).toEqual(["L1H2"]);
    expect(await page.$$eval(".gl-token.gl-focused", (elements) => elements.map((element) => element.getAttribute("data-pos")))).toEqual([`${FOCUS}`]);
    await expectTokenValues(1, 2);

    let strongest = 0;
    for (let key = 1; key <= FOCUS; key++) if (weight(1, 2, FOCUS, key) > weight(1, 2, FOCUS, strongest)) strongest = key;
    const focus = await textOf(page, ".gl-focus");
    expect(focus).toContain(`L1H2, token ${FOCUS} \u201c${tokens[FOCUS]}\u201d: attends most to ${strongest} \u201c${tokens[strongest]}\u201d`);
    expectShown(/attends most to [^(]*\(([\d.]+)\)/.exec(focus)![1]!, weight(1, 2, FOCUS, strongest), "the strongest weight");
    expect(pageErrors).toEqual([]);
  });

  it("draws the head's pattern in the heatmap: the hovered row's strongest cell has its token chip's colour", async () => {
    let strongest = 0;
    for (let key = 1; key <= FOCUS; key++) if (weight(1, 2, FOCUS, key) > weight(1, 2, FOCUS, strongest)) strongest = key;
    const chipColor = await page.$eval(`.gl-token[data-pos="${strongest}"] .gl-to`, (chip) => (chip as unknown as StyledElement).style.background);
    const n = tokens.length;
    const cellPixel = await page.$eval(
      "canvas.gl-heatmap",
      (canvas, n, query, key) => {
        const heat = canvas as unknown as Canvas2d;
        const cell = Math.max(2, Math.min(28, Math.floor(420 / n)));
        const margin = heat.width - 1 - n * cell;
        const [r, g, b] = heat.getContext("2d")!.getImageData(margin + key * cell + cell / 2, query * cell + cell / 2, 1, 1).data;
        return `rgb(${r}, ${g}, ${b})`;
      },
      n, FOCUS, strongest,
    );
    expect(cellPixel).toBe(chipColor);
    expect(chipColor).not.toBe("rgb(255, 255, 255)");
  });

  it("hovering a heatmap cell names its query, key and weight", async () => {
    const box = (await (await page.$("canvas.gl-heatmap"))!.boundingBox())!;
    const size = await page.$eval("canvas.gl-heatmap", (canvas) => [(canvas as unknown as Canvas2d).width, (canvas as unknown as Canvas2d).height]);
    const n = tokens.length;
    const cell = Math.max(2, Math.min(28, Math.floor(420 / n)));
    const margin = size[0]! - 1 - n * cell;
    const [query, key] = [12, 8];
    await page.mouse.move(box.x + margin + (key + 0.5) * cell, box.y + (query + 0.5) * cell);
    const info = await textOf(page, ".gl-cell-info");
    expect(info).toMatch(new RegExp(`^query 12 \u201c${tokens[12]}\u201d \u2192 key 8 \u201c${tokens[8]}\u201d: \\d\\.\\d{3}$`));
    expectShown(info.split(": ")[1]!, weight(1, 2, query, key), "the hovered cell");
  });

  it("clicking another head keeps the hovered token and shows that head's weights", async () => {
    await page.click('button.gl-head[data-label="L3H0"]');
    expect(await textOf(page, ".gl-heatmap-title")).toBe("L3H0 attention pattern (rows: query, columns: key)");
    await expectTokenValues(3, 0);
    expect(pageErrors).toEqual([]);
  });

  it("keeps the tokens in place while their numbers fill in, so the hovered token stays the one under the pointer", async () => {
    const n = 80;
    const data = new Float32Array(n * n);
    for (let q = 0; q < n; q++) for (let k = 0; k <= q; k++) data[q * n + k] = 1 / (q + 1);
    const short = Array.from({ length: n }, (_, i) => (i % 2 ? " a" : "b"));
    const html = attentionViewerHtml(attentionViewerData(short, [0], [new Tensor(data, [1, 1, n, n])]));
    const other = await browser!.newPage();
    try {
      await other.setViewport({ width: 900, height: 900 });
      await other.setContent(`<!DOCTYPE html><meta charset="utf-8"><body>${html}</body>`);
      const boxes = (): Promise<string> =>
        other.$$eval(".gl-token", (tokens) =>
          JSON.stringify(tokens.map((token) => {
            const box = (token as unknown as { getBoundingClientRect(): { x: number; y: number; width: number; height: number } }).getBoundingClientRect();
            return [box.x, box.y, box.width, box.height];
          })));
      const before = await boxes();
      for (const pos of [0, 37, 55, 79]) {
        await other.hover(`.gl-token[data-pos="${pos}"]`);
        const focused = await other.$$eval(".gl-token.gl-focused", (tokens) => tokens.map((token) => token.getAttribute("data-pos")));
        expect(focused).toEqual([`${pos}`]);
      }
      expect(await boxes()).toBe(before);
    } finally {
      await other.close();
    }
  });
});
