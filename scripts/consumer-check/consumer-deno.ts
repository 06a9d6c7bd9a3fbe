// Runs under Deno against the installed package (node_modules beside package.json), as a notebook would.
import { loadHookedGpt2, toTokens } from "gpt2-lens";

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`deno consumer: ${what}`);
}

const model = await loadHookedGpt2();
const { logits, cache } = model.run(toTokens("<|endoftext|> The war lasted from the year 1732 to the year 17"), { cache: true });
check(logits.shape.join(",") === "1,13,50257", `logits shape ${logits.shape}`);
const pattern = cache.get("pattern", 0);
check(Deno.inspect(pattern).startsWith("Tensor shape=[1, 4, 13, 13] dtype=float32\n[[[["), `Deno.inspect: ${Deno.inspect(pattern).slice(0, 80)}`);
check(Deno.inspect(cache).startsWith("ActivationCache with "), "Deno.inspect of the cache");
const display = (pattern as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")]!();
check(display["text/html"]!.includes("<svg"), "the pattern displays as heatmaps");
check(cache.get("resid_post", 3).rank === 3, "resid_post of the last block");
model.dispose();
console.log(`deno: ok (top END token ${logits.slice([0, -1]).argmax()})`);
