import { totalmem } from "node:os";
import type { Gpt2Config } from "../../gpt2/config.ts";
import { greaterThanLargestArrayFloats, greaterThanMemoryBytes } from "../../tasks/greater-than/memory.ts";
import { UsageError } from "../usage-error.ts";
import { gigabytes as gb, MAX_ARRAY_FLOATS } from "./size-limits.ts";

/**
 * Refuses a prompt count the pipeline cannot hold on this machine, before it runs: `source` names
 * where the count came from ("--n", "--dataset prompts.safetensors").
 */
export function checkGreaterThanSize(n: number, source: string, config: Gpt2Config, memoryBytes: number = totalmem()): void {
  const largest = greaterThanLargestArrayFloats(config, n);
  if (largest > MAX_ARRAY_FLOATS) {
    throw new UsageError(
      `greater-than: ${n} prompts (${source}) need an array of ${largest} floats on this model, more than 2^32 floats, the longest Float32Array; use fewer prompts`,
    );
  }
  const bytes = greaterThanMemoryBytes(config, n);
  if (bytes <= memoryBytes) return;
  throw new UsageError(
    `greater-than: ${n} prompts (${source}) need at least ${gb(bytes)} on this model (the cached clean and corrupted runs and the END logits), ` +
      `more than this machine's memory (${gb(memoryBytes)}); use fewer prompts`,
  );
}
