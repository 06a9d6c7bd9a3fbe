import { totalmem } from "node:os";
import type { Gpt2Config } from "../../gpt2/config.ts";
import { greaterThanLargestArrayFloats, greaterThanMemoryBytes } from "../../tasks/greater-than/memory.ts";
import { UsageError } from "../usage-error.ts";
import { gigabytes as gb, MAX_ARRAY_FLOATS } from "./size-limits.ts";

/**
 * Refuses a prompt count a family's runs cannot hold, before they start: like greater-than's check,
 * for `n` prompts of the longest family's length (a family is run in one batch when its prompts are
 * equally long).
 */
export function checkRelatedTasksSize(n: number, longestPrompt: number, config: Gpt2Config, memoryBytes: number = totalmem()): void {
  const largest = greaterThanLargestArrayFloats(config, n, longestPrompt);
  if (largest > MAX_ARRAY_FLOATS) {
    throw new UsageError(
      `related-tasks: --n ${n} prompts of up to ${longestPrompt} tokens need an array of ${largest} floats on this model, more than 2^32 floats, the longest Float32Array; use fewer prompts`,
    );
  }
  const bytes = greaterThanMemoryBytes(config, n, longestPrompt);
  if (bytes <= memoryBytes) return;
  throw new UsageError(
    `related-tasks: --n ${n} prompts of up to ${longestPrompt} tokens need at least ${gb(bytes)} on this model (a family's cached clean and corrupted runs and its END logits), ` +
      `more than this machine's memory (${gb(memoryBytes)}); use fewer prompts`,
  );
}
