/** attentionViewer's HTML: escaping, the embedded data's shape and precision, options and display. */
import { afterAll, describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { toStrTokens, toTokens } from "../../src/gpt2/tokenizer.ts";
import { InputError } from "../../src/errors.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { ATTENTION_DECIMALS, attentionViewerData, type AttentionViewerData } from "../../src/viz/attention-viewer-data.ts";
import { attentionViewerHtml, type AttentionViewerPayload } from "../../src/viz/attention-viewer-html.ts";
import { ATTENTION_VIEWER_SCRIPT } from "../../src/viz/attention-viewer-script.ts";
import { attentionViewer } from "../../src/viz/attention-viewer.ts";
import { JUPYTER_DISPLAY } from "../../src/viz/jupyter-display.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";
import { thrownBy } from "../helpers/thrown.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
afterAll(() => model.dispose());

const PROMPT = "<|endoftext|> The war lasted from the year 1732 to the year 17";

/** The JSON the page's script reads, parsed back. */
function payloadOf(html: string): AttentionViewerPayload {
  const match = /<script type="application\/json" class="gl-data">([^]*?)<\/script>/.exec(html);
  expect(match, "the data script element").not.toBeNull();
  return JSON.parse(match![1]!) as AttentionViewerPayload;
}

/** A causal pattern [1, heads, pos, pos] whose row q spreads evenly over keys 0…q. */
function uniformPattern(heads: number, pos: number): Tensor {
  const data = new Float32Array(heads * pos * pos);
  for (let h = 0; h < heads; h++) {
    for (let q = 0; q < pos; q++) for (let k = 0; k <= q; k++) data[(h * pos + q) * pos + k] = 1 / (q + 1);
  }
  return new Tensor(data, [1, heads, pos, pos]);
}

function dataFor(tokens: string[]): AttentionViewerData {
  return attentionViewerData(tokens, [0], [uniformPattern(2, tokens.length)]);
}

describe("attentionViewer", () => {
  it("embeds every shown layer's pattern as its lower triangle, rounded to 3 decimals", () => {
    const tokens = toTokens(PROMPT);
    const viewer = attentionViewer(model, PROMPT);
    const { cache } = model.run(tokens, { cache: ["blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"] });
    const payload = payloadOf(viewer.html);
    expect(payload.data).toEqual(viewer.data);
    expect(payload.decimals).toBe(ATTENTION_DECIMALS);
    expect(viewer.data.tokens).toEqual(toStrTokens(tokens));
    expect(viewer.data.layers).toEqual([0, 1]);
    expect(viewer.data.nHeads).toBe(4);
    expect(viewer.data.patterns).toHaveLength(2);
    viewer.data.patterns.forEach((layer, li) => {
      const pattern = cache.get("pattern", li);
      expect(layer).toHaveLength(4);
      layer.forEach((head, h) => {
        expect(head).toHaveLength(tokens.length);
        head.forEach((row, q) => {
          expect(row).toHaveLength(q + 1);
          row.forEach((value, k) => {
            expect(Math.abs(value - pattern.get(0, h, q, k))).toBeLessThanOrEqual(0.0005 + 1e-7);
            expect(Number(value.toFixed(ATTENTION_DECIMALS))).toBe(value);
          });
        });
      });
    });
    const numbers = JSON.stringify(viewer.data.patterns).match(/\d+\.\d+/g) ?? [];
    expect(numbers.length).toBeGreaterThan(0);
    for (const number of numbers) expect(number.split(".")[1]!.length).toBeLessThanOrEqual(ATTENTION_DECIMALS);
  });

  it("shows only the layers asked for, in ascending order", () => {
    expect(attentionViewer(model, PROMPT, { layers: [1] }).data.layers).toEqual([1]);
    const both = attentionViewer(model, toTokens(PROMPT), { layers: [1, 0] });
    expect(both.data.layers).toEqual([0, 1]);
    expect(both.html.match(/class="gl-head" /g)).toHaveLength(8);
  });

  it("puts BOS first only when asked", () => {
    expect(attentionViewer(model, " The war", { prependBos: true }).data.tokens).toEqual(["<|endoftext|>", " The", " war"]);
    expect(attentionViewer(model, " The war").data.tokens).toEqual([" The", " war"]);
  });

  it("refuses layers outside the model, repeated or none, and a batch of prompts", () => {
    for (const layers of [[2], [-1], [0.5], [0, 0], []]) {
      thrownBy(() => attentionViewer(model, PROMPT, { layers }), InputError, "bad_layer");
    }
    thrownBy(() => attentionViewer(model, [[464, 1175]] as unknown as number[]), InputError, "bad_tokens");
    thrownBy(() => attentionViewer(model, [60_000]), InputError, "token_out_of_vocab");
  });

  it("displays in Jupyter as its HTML, with a text summary", () => {
    const viewer = attentionViewer(model, PROMPT, { layers: [1] });
    const bundle = viewer[JUPYTER_DISPLAY]();
    expect(bundle["text/html"]).toBe(viewer.html);
    expect(bundle["text/plain"]).toBe("attention viewer: 13 tokens, layers 1, 4 heads");
    expect((viewer as unknown as Record<symbol, () => unknown>)[Symbol.for("Jupyter.display")]).toBeTypeOf("function");
  });
});

describe("attentionViewerHtml", () => {
  const tricky = ["<|endoftext|>", ' "quoted"', " it's", " a&b", "</script><script>alert(1)</script>", "<!--", "\n", "\u2028"];

  it("escapes tokens in the markup and keeps them exact in the data", () => {
    const html = attentionViewerHtml(dataFor(tricky));
    expect(html).toContain(`<span class="gl-token-text">&lt;|endoftext|&gt;</span>`);
    expect(html).toContain(`<span class="gl-token-text"> &quot;quoted&quot;</span>`);
    expect(html).toContain(`<span class="gl-token-text"> it&#39;s</span>`);
    expect(html).toContain(`<span class="gl-token-text"> a&amp;b</span>`);
    expect(html).toContain(`<span class="gl-token-text">&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</span>`);
    expect(html).toContain(`<span class="gl-token-text">\\n</span>`);
    // Only the data and the code elements open or close a script; no token opens a comment.
    expect(html.match(/<script/gi)).toHaveLength(2);
    expect(html.match(/<\/script/gi)).toHaveLength(2);
    expect(html).not.toContain("<!--");
    const json = /class="gl-data">([^]*?)<\/script>/.exec(html)![1]!;
    expect(json).not.toMatch(/[<>&\u2028\u2029]/);
    expect(payloadOf(html).data.tokens).toEqual(tricky);
  });

  it("has one head button per layer and head, labelled like TransformerLens, the first pressed", () => {
    const data = attentionViewerData(["a", "b", "c"], [2, 5], [uniformPattern(3, 3), uniformPattern(3, 3)]);
    const html = attentionViewerHtml(data);
    const labels = [...html.matchAll(/data-label="(L\d+H\d+)"/g)].map((m) => m[1]);
    expect(labels).toEqual(["L2H0", "L2H1", "L2H2", "L5H0", "L5H1", "L5H2"]);
    expect(html.match(/aria-pressed="true">/g)).toHaveLength(1);
    expect(html).toContain('data-label="L2H0" title="L2H0" aria-pressed="true"');
    expect(html).toContain("L2H0 attention pattern");
    expect(html).toContain("layers 2…5");
  });

  it("gives two viewers of the same data distinct ids, each used by its own style and script", () => {
    const data = dataFor(["a", "b"]);
    const ids = [attentionViewerHtml(data), attentionViewerHtml(data)].map((html) => {
      const id = /<div class="gpt2-lens-attention" id="([\w-]+)">/.exec(html)![1]!;
      expect(html).toContain(`#${id} .gl-title`);
      expect(html).toContain(`(${JSON.stringify(id)});</script>`);
      return id;
    });
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("says, until its script runs, that the heatmaps need JavaScript", () => {
    expect(attentionViewerHtml(dataFor(["a"]))).toContain(`<div class="gl-hint gl-needs-script">The heatmaps, head thumbnails and hovering need JavaScript`);
  });

  it("escapes the title", () => {
    expect(attentionViewerHtml(dataFor(["a"]), { title: "<b>x</b>" })).toContain(`<div class="gl-title">&lt;b&gt;x&lt;/b&gt;</div>`);
  });

  it("holds a script that parses and never closes its element early", () => {
    expect(ATTENTION_VIEWER_SCRIPT.toLowerCase()).not.toContain("</script");
    expect(() => new Function(`return ${ATTENTION_VIEWER_SCRIPT};`)).not.toThrow();
  });

  it("refuses patterns that do not match the tokens", () => {
    thrownBy(() => attentionViewerData(["a", "b"], [0], [uniformPattern(2, 3)]), InputError, "bad_shape");
    thrownBy(() => attentionViewerData(["a"], [0, 1], [uniformPattern(2, 1)]), InputError, "shape_mismatch");
  });
});
