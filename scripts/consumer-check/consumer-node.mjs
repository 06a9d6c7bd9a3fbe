// Runs under Node against the installed package: the bundled model, a cached run, the short names,
// tensor ops and their printing. Exits non-zero (an uncaught error) if anything is off.
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { actName, loadHookedGpt2, Tensor, toTokens } from "gpt2-lens";

const model = await loadHookedGpt2();
const tokens = toTokens("<|endoftext|> The war lasted from the year 1732 to the year 17");
const { logits, cache } = model.run(tokens, { cache: ["blocks.0.attn.hook_pattern"] });
assert.deepEqual(logits.shape, [1, 13, 50257]);
const pattern = cache.get("pattern", 0);
assert.equal(pattern, cache.get(actName("pattern", 0)));
const rowSums = pattern.sum(-1);
assert.ok(Array.from(rowSums.data).every((s) => Math.abs(s - 1) < 1e-5), "pattern rows sum to 1");
const { indices } = logits.slice([0, -1]).topk(3);
assert.equal(indices.get(0), logits.slice([0, -1]).argmax());
assert.match(inspect(pattern), /^Tensor shape=\[1, 4, 13, 13\] dtype=float32\n\[\[\[\[/);
assert.match(String(cache), /^ActivationCache with 1 activation:\n {2}blocks\.0\.attn\.hook_pattern {2}\[1, 4, 13, 13\]$/);
assert.deepEqual(Tensor.from([1, 2, 3, 4], [2, 2]).toNested(), [[1, 2], [3, 4]]);
model.dispose();
console.log(`node: ok (top END token ${indices.get(0)})`);
