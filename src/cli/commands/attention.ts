import { loadGpt2FromDir } from "../../gpt2/node-load.ts";
import { BUNDLED_MODEL_DIR } from "../../gpt2/node-bundled-model.ts";
import { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import { writeFileAtomic } from "../../io/node-files.ts";
import { attentionViewer } from "../../viz/attention-viewer.ts";
import { optionalString, parseCommandArgs, requireString } from "../args.ts";
import { checkOutFile } from "../output-checks.ts";
import { UsageError } from "../usage-error.ts";

export const ATTENTION_USAGE = `gpt2-lens attention [--model DIR] --prompt TEXT [--layer L] --out FILE.html

Writes an interactive attention viewer for the prompt as one self-contained HTML page (no network):
the tokens, a layer × head grid of pattern thumbnails to click, the chosen head's pattern as a
heatmap, and, on hovering a token, where it attends to and where it is attended from.
The prompt runs verbatim (no BOS is added; write <|endoftext|> in it for one). --layer shows one
layer (default: all); --model defaults to the bundled greater-than model.`;

export async function attentionCommand(argv: readonly string[], log: (line: string) => void): Promise<void> {
  const { values, positionals } = parseCommandArgs("attention", argv, {
    model: { type: "string" },
    prompt: { type: "string" },
    layer: { type: "string" },
    out: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`attention: unexpected argument "${positionals[0]}"`);
  const prompt = requireString("attention", values.prompt, "prompt");
  const layerFlag = optionalString(values, "layer");
  if (layerFlag !== undefined && !/^\d+$/.test(layerFlag)) {
    throw new UsageError(`attention: --layer must be a layer index (0, 1, …), got "${layerFlag}"`);
  }
  const out = await checkOutFile("attention", "out", requireString("attention", values.out, "out"));
  const model = new HookedGpt2(await loadGpt2FromDir(optionalString(values, "model") ?? BUNDLED_MODEL_DIR));
  try {
    const layer = layerFlag === undefined ? undefined : Number(layerFlag);
    if (layer !== undefined && layer >= model.config.nLayers) {
      throw new UsageError(`attention: --layer ${layer} is outside the model's layers 0…${model.config.nLayers - 1}`);
    }
    const viewer = attentionViewer(model, prompt, { layers: layer === undefined ? undefined : [layer] });
    await writeFileAtomic(out, new TextEncoder().encode(standalonePage(viewer.html)));
    const { tokens, layers, nHeads } = viewer.data;
    log(`wrote the attention viewer (${tokens.length} tokens, ${layers.length} layer(s) × ${nHeads} heads) to ${out}`);
  } finally {
    model.dispose();
  }
}

function standalonePage(body: string): string {
  return `<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>gpt2-lens attention viewer</title></head>\n<body>\n${body}\n</body>\n</html>\n`;
}
