/**
 * Under Deno, builds the attention viewer from the sources and prints what a Jupyter kernel would
 * get from `Symbol.for("Jupyter.display")` (Deno's `Deno.jupyter.$display`), as one JSON line.
 *
 *   deno run -A test/deno/attention-display-check.ts
 */
import { fileURLToPath } from "node:url";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { attentionViewer } from "../../src/viz/attention-viewer.ts";

const MODEL_DIR = fileURLToPath(new URL("../fixtures/tiny-gpt2", import.meta.url));
const model = new HookedGpt2(await loadGpt2FromDir(MODEL_DIR));
const viewer = attentionViewer(model, "<|endoftext|> Hello there", { layers: [1] }) as unknown as Record<symbol, unknown> & { html: string };
const display = viewer[Symbol.for("Jupyter.display")] as () => Record<string, string>;
const bundle = display.call(viewer);
console.log(JSON.stringify({
  runtime: "Deno" in globalThis ? "deno" : "node",
  mimeTypes: Object.keys(bundle).sort(),
  htmlIsViewer: bundle["text/html"] === viewer.html && viewer.html.includes('class="gpt2-lens-attention"'),
  plain: bundle["text/plain"],
}));
model.dispose();
