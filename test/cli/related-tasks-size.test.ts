import { describe, expect, it } from "vitest";
import { checkRelatedTasksSize } from "../../src/cli/commands/related-tasks-size.ts";
import type { Gpt2Config } from "../../src/gpt2/config.ts";
import { UsageError } from "../../src/cli/usage-error.ts";

const GPT2_SMALL = { nLayers: 12, nHeads: 12, dModel: 768, dHead: 64, dMlp: 3072, dVocab: 50257, nCtx: 1024 } as unknown as Gpt2Config;

describe("related-tasks size check", () => {
  it("lets 97 prompts of 18 tokens through on GPT-2 small with 8 GB", () => {
    expect(() => checkRelatedTasksSize(97, 18, GPT2_SMALL, 8e9)).not.toThrow();
  });

  it("refuses a count the machine cannot hold, naming the prompt length", () => {
    expect(() => checkRelatedTasksSize(20_000, 18, GPT2_SMALL, 8e9)).toThrow(UsageError);
    expect(() => checkRelatedTasksSize(20_000, 18, GPT2_SMALL, 8e9)).toThrow(/--n 20000 prompts of up to 18 tokens need at least .* GB/);
  });

  it("refuses arrays past 2^32 floats", () => {
    expect(() => checkRelatedTasksSize(100_000, 18, GPT2_SMALL, 1e15)).toThrow(/more than 2\^32 floats/);
  });
});
