/**
 * generate(): greedy decoding with the key/value cache equals the argmax of repeated full runs,
 * for one prompt and a left-padded batch; sampling is deterministic for a seed and respects topK;
 * stopAtEos ends a row; hooks fire at every step on its new positions.
 */
import { describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { argmaxIndex } from "../../src/hooks/sampling.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const { dVocab } = model.config;
const EOS = 50256;

/** The last position's logits of a full run of `tokens` (no key/value cache). */
function lastLogits(tokens: readonly number[]): Float32Array {
  const { logits } = model.run([tokens]);
  return logits.data.slice((tokens.length - 1) * dVocab, tokens.length * dVocab);
}

function greedyByFullRuns(prompt: readonly number[], n: number): number[] {
  const tokens = [...prompt];
  for (let i = 0; i < n; i++) tokens.push(argmaxIndex(lastLogits(tokens)));
  return tokens.slice(prompt.length);
}

const prompts = [[464, 1175, 15436, 422], [15496, 11, 995], [7, 8, 9, 10, 11, 12, 13]];

describe("generate", () => {
  it("greedy (temperature 0) equals the argmax of repeated full runs, alone and in a left-padded batch", () => {
    const n = 6;
    const expected = prompts.map((p) => greedyByFullRuns(p, n));
    expect(model.generate(prompts[0]!, { temperature: 0, maxNewTokens: n, stopAtEos: false }).newTokens).toEqual([expected[0]]);
    const batch = model.generate(prompts, { temperature: 0, maxNewTokens: n, stopAtEos: false });
    expect(batch.newTokens).toEqual(expected);
    expect(batch.tokens).toEqual(prompts.map((p, b) => [...p, ...expected[b]!]));
  });

  it("is deterministic for a seed, and a different seed gives other tokens", () => {
    const options = { maxNewTokens: 8, seed: 7, stopAtEos: false };
    const a = model.generate(prompts, options);
    expect(model.generate(prompts, options)).toEqual(a);
    expect(model.generate(prompts, { ...options, seed: 8 }).newTokens).not.toEqual(a.newTokens);
  });

  it("samples only among the topK likeliest tokens (checked against full runs); topK 1 is greedy", () => {
    const prompt = prompts[1]!;
    const k = 3;
    const { newTokens } = model.generate(prompt, { topK: k, temperature: 2, maxNewTokens: 6, seed: 3, stopAtEos: false });
    const tokens = [...prompt];
    for (const token of newTokens[0]!) {
      const logits = lastLogits(tokens);
      const kth = Float32Array.from(logits).sort().reverse()[k - 1]!;
      expect(logits[token]).toBeGreaterThanOrEqual(kth);
      tokens.push(token);
    }
    expect(model.generate(prompt, { topK: 1, maxNewTokens: 4, seed: 1, stopAtEos: false }).newTokens[0]).toEqual(greedyByFullRuns(prompt, 4));
  });

  it("stopAtEos ends a row at the end-of-text token; generation goes on for the others", () => {
    // Row 0 is made to prefer end-of-text at every position.
    const forceEos = ["logits", (logits: { data: Float32Array; shape: readonly number[] }) => {
      const pos = logits.shape[1]!;
      for (let p = 0; p < pos; p++) logits.data[p * dVocab + EOS] = 1e4;
    }] as const;
    const rows = [prompts[0]!, prompts[1]!];
    const stopped = model.generate(rows, { temperature: 0, maxNewTokens: 5, hooks: [forceEos] });
    expect(stopped.newTokens[0]).toEqual([EOS]);
    expect(stopped.newTokens[1]).toHaveLength(5);
    const onlyEos = model.generate([prompts[0]!], { temperature: 0, maxNewTokens: 3, hooks: [forceEos] });
    expect(onlyEos.newTokens).toEqual([[EOS]]);
    const goesOn = model.generate(rows, { temperature: 0, maxNewTokens: 5, stopAtEos: false, hooks: [forceEos] });
    expect(goesOn.newTokens[0]).toEqual([EOS, EOS, EOS, EOS, EOS]);
  });

  it("runs hooks at every step: the prompt's positions first, then one new position per step", () => {
    const seen: number[] = [];
    model.generate(prompts[2]!, {
      temperature: 0,
      maxNewTokens: 4,
      stopAtEos: false,
      hooks: [["blocks.0.hook_resid_pre", (x) => void seen.push(x.shape[1]!)]],
    });
    expect(seen).toEqual([prompts[2]!.length, 1, 1, 1]);
    // A hook that changes activations changes what is generated.
    const zeroAttn = ["blocks.0.hook_attn_out", (x: { data: Float32Array }) => void x.data.fill(0)] as const;
    const plain = model.generate(prompts[2]!, { temperature: 0, maxNewTokens: 4, stopAtEos: false });
    const hooked = model.generate(prompts[2]!, { temperature: 0, maxNewTokens: 4, stopAtEos: false, hooks: [zeroAttn] });
    expect(hooked.newTokens).not.toEqual(plain.newTokens);
  });

  it("takes text (BOS first) and decodes the result", () => {
    const result = model.generate("Hello", { temperature: 0, maxNewTokens: 2, stopAtEos: false });
    expect(result.tokens[0]!.slice(0, 2)).toEqual([EOS, 15496]);
    expect(result.text[0]!.startsWith("<|endoftext|>Hello")).toBe(true);
  });

  it("rejects bad options and prompts that would outgrow the context", () => {
    const p = prompts[0]!;
    expect(() => model.generate(p, { temperature: -1 })).toThrow(/temperature must be a finite number/);
    expect(() => model.generate(p, { topK: 0 })).toThrow(/topK must be an integer ≥ 1/);
    expect(() => model.generate(p, { maxNewTokens: 1.5 })).toThrow(/maxNewTokens must be an integer/);
    expect(() => model.generate(p, { maxTokens: 3 } as never)).toThrow(/unknown generate option "maxTokens"/);
    expect(() => model.generate(p, { maxNewTokens: model.config.nCtx })).toThrow(/exceeds the model's context/);
    expect(model.generate(p, { maxNewTokens: 0 }).newTokens).toEqual([[]]);
  });
});
