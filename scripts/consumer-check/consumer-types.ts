// Type-checked only (strict, no skipLibCheck): the public API as a dependent project uses it.
import {
  actName, ActivationCache, Figure, HookedGpt2, type HookName, InputError, loadHookedGpt2, type SliceIndex, Tensor,
  toTokens, type TopK, heatmap,
} from "gpt2-lens";
import { hookNameArbitrary } from "gpt2-lens/testing"; // needs the optional peer fast-check

export async function analyse(dir?: string): Promise<number[]> {
  const model: HookedGpt2 = await loadHookedGpt2(dir);
  const tokens = toTokens("<|endoftext|> The war lasted from the year 1732 to the year 17");
  const { logits, cache } = model.run(tokens, { cache: ["blocks.0.attn.hook_pattern", "hook_embed"] });
  const c: ActivationCache = cache;
  const pattern: Tensor = c.get("pattern", 0);
  const same: Tensor = c.get("blocks.0.attn.hook_pattern");
  const name: HookName = actName("scale", 0, "ln1");
  const spec: SliceIndex[] = [0, [2, -1], null, "..."];
  const row: Tensor = pattern.slice(spec);
  const top: TopK = logits.slice([0, -1]).topk(5);
  const best: number = logits.argmax();
  const perPos: Tensor = logits.argmax(-1);
  const total: number = row.sum();
  const means: Tensor = pattern.mean([0, 1], true);
  const nested = same.toNested();
  const text: string = String(pattern);
  const ndShape: number[] = pattern.toNdarray().shape;
  const figure = new Figure({ name: "x", svg: heatmap({ title: "t", values: [[1]], rowLabels: ["a"], colLabels: ["b"], xLabel: "x", yLabel: "y", colorScale: "sequential" }), caption: "c" });
  const html: string = figure.toHtml();
  model.dispose();
  void [name, top.indices, perPos, total, means, nested, text, ndShape, html, hookNameArbitrary, InputError];
  return Array.from(top.indices.data);
}
