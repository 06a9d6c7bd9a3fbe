/** checkBenchShape: the bench refuses shapes whose full logits would not fit, before loading. */
import { describe, expect, it } from "vitest";
import { checkBenchShape } from "../../src/cli/commands/bench-size.ts";
import { UsageError } from "../../src/cli/usage-error.ts";

const GPT2 = { nCtx: 1024, dVocab: 50257 };
const GB = 1e9;

function refusal(batch: number, seq: number, memory: number): string {
  try {
    checkBenchShape(batch, seq, GPT2, memory);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  }
  throw new Error(`expected ${batch}×${seq} to be refused`);
}

describe("checkBenchShape", () => {
  it("takes shapes whose logits fit in both 2^32 floats and the memory", () => {
    expect(() => checkBenchShape(8, 128, GPT2, 16 * GB)).not.toThrow();
    // 85 × 1000 × 50257 ≈ 4.27e9 floats ≤ 2^32.
    expect(() => checkBenchShape(85, 1000, GPT2, 64 * GB)).not.toThrow();
  });

  it("refuses logits beyond 2^32 floats, even with memory to spare", () => {
    expect(refusal(86, 1000, 64 * GB)).toBe(
      "bench: --batch 86 × --seq 1000 needs full logits of 86×1000×50257 = 4322102000 floats (17.3 GB), " +
        "more than 2^32 floats, the longest Float32Array allows; use a smaller --batch or --seq",
    );
  });

  it("refuses logits beyond the machine's memory", () => {
    expect(refusal(64, 1000, 8 * GB)).toBe(
      "bench: --batch 64 × --seq 1000 needs full logits of 64×1000×50257 = 3216448000 floats (12.9 GB), " +
        "more than this machine's memory (8.0 GB) allows; use a smaller --batch or --seq",
    );
    expect(() => checkBenchShape(39, 1000, GPT2, 8 * GB)).not.toThrow();
  });

  it("refuses --seq beyond n_ctx first", () => {
    expect(refusal(1, 1025, 64 * GB)).toBe("bench: --seq 1025 exceeds the model's n_ctx 1024");
  });
});
