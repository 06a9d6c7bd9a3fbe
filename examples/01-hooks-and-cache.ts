// Notebook-style: run each block as a cell in `deno jupyter`, or the whole file with
//   npx deno run -A examples/01-hooks-and-cache.ts
// Outside this repository, import from "npm:gpt2-lens" instead of "../src/index.ts".
import { loadHookedGpt2, toStrTokens, toTokens } from "../src/index.ts";

// The bundled 6-layer GPT-2 trained on synthetic text, not GPT-2 (pass a directory for real GPT-2 weights).
const model = await loadHookedGpt2();
const prompt = "<|endoftext|> The war lasted from the year 1732 to the year 17";
const tokens = toTokens(prompt);
console.log(toStrTokens(tokens));

// Run with a cache of the attention patterns: [batch, head, query_pos, key_pos].
const { logits, cache } = model.run(tokens, { cache: (name) => name.endsWith("hook_pattern") });
console.log(cache); // the cached hook names and their shapes
const pattern = cache.get("pattern", 4); // TransformerLens's short form of "blocks.4.attn.hook_pattern"
const END = tokens.length - 1, YY = 8;
console.log(`L4H1 attends from END to YY with weight ${pattern.get(0, 1, END, YY).toFixed(3)}`);
console.log(pattern.slice([0, 1])); // head 1's [query_pos, key_pos] pattern, printed numpy-style

// Greedy next token before and after zero-ablating head L4H1 through a hook on hook_z.
const top = logits.slice([0, -1]).topk(3);
console.log(`top 3 at END: ${toStrTokens(Array.from(top.indices.data)).map((t) => JSON.stringify(t)).join(", ")}`);
const argmaxAtEnd = (values: typeof logits) => toStrTokens([values.slice([0, END]).argmax()])[0];
const ablated = model.run(tokens, {
  hooks: [["blocks.4.attn.hook_z", (z) => {
    const [, pos, heads, dHead] = z.shape as [number, number, number, number];
    for (let p = 0; p < pos; p++) z.data.fill(0, (p * heads + 1) * dHead, (p * heads + 2) * dHead);
  }]],
});
console.log(`next token: "${argmaxAtEnd(logits)}", with L4H1 ablated: "${argmaxAtEnd(ablated.logits)}"`);
