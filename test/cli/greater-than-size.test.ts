/** checkGreaterThanSize: greater-than refuses prompt counts it could not hold, before making the prompts. */
import { describe, expect, it } from "vitest";
import { checkGreaterThanSize } from "../../src/cli/commands/greater-than-size.ts";
import { parseHfConfig } from "../../src/gpt2/config.ts";
import { UsageError } from "../../src/cli/usage-error.ts";
import { greaterThanMemoryBytes } from "../../src/tasks/greater-than/memory.ts";

const GPT2_SMALL = parseHfConfig({ n_layer: 12, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 });
const GB = 1e9;

function refusal(n: number, source: string, memory: number): UsageError {
  try {
    checkGreaterThanSize(n, source, GPT2_SMALL, memory);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`expected ${n} prompts to be refused`);
}

describe("checkGreaterThanSize", () => {
  it("takes the paper's 490 prompts on GPT-2 small with 8 GB", () => {
    expect(() => checkGreaterThanSize(490, "--n", GPT2_SMALL, 8 * GB)).not.toThrow();
  });

  it("refuses a count beyond the machine's memory, naming the count, its source and the memory", () => {
    const error = refusal(2000, "--n", 8 * GB);
    expect(error.message).toMatch(/^greater-than: 2000 prompts \(--n\) need at least 12\.\d GB on this model/);
    expect(error.message).toMatch(/more than this machine's memory \(8\.0 GB\); use fewer prompts$/);
    expect(refusal(2000, "--dataset big.safetensors", 8 * GB).message).toContain("(--dataset big.safetensors)");
    const fits = Math.floor((8 * GB) / greaterThanMemoryBytes(GPT2_SMALL, 1));
    expect(() => checkGreaterThanSize(fits, "--n", GPT2_SMALL, 8 * GB)).not.toThrow();
    expect(() => checkGreaterThanSize(fits + 1, "--n", GPT2_SMALL, 8 * GB)).toThrow(UsageError);
  });

  it("refuses END logits beyond 2^32 floats, whatever the memory", () => {
    // 85461 × 50257 > 2^32 ≥ 85460 × 50257
    expect(refusal(85461, "--n", 1e15).message).toMatch(/85461 prompts \(--n\) need an array of 4295013477 floats .* 2\^32 floats/);
    expect(() => checkGreaterThanSize(85460, "--n", GPT2_SMALL, 1e15)).not.toThrow();
  });
});
