import { totalmem } from "node:os";
import type { Gpt2Config } from "../../gpt2/config.ts";
import { UsageError } from "../usage-error.ts";
import { gigabytes as gb, MAX_ARRAY_FLOATS } from "./size-limits.ts";

/**
 * Refuses a bench shape the model cannot run: --seq beyond n_ctx, or full logits
 * (batch·seq·d_vocab floats) beyond the smaller of 2^32 floats and the machine's memory.
 */
export function checkBenchShape(
  batch: number, seq: number, config: Pick<Gpt2Config, "nCtx" | "dVocab">, memoryBytes: number = totalmem(),
): void {
  if (seq > config.nCtx) throw new UsageError(`bench: --seq ${seq} exceeds the model's n_ctx ${config.nCtx}`);
  const floats = batch * seq * config.dVocab;
  const limit = Math.min(MAX_ARRAY_FLOATS, Math.floor(memoryBytes / 4));
  if (floats <= limit) return;
  const bound = limit === MAX_ARRAY_FLOATS ? "2^32 floats, the longest Float32Array" : `this machine's memory (${gb(memoryBytes)})`;
  throw new UsageError(
    `bench: --batch ${batch} × --seq ${seq} needs full logits of ${batch}×${seq}×${config.dVocab} = ${floats} floats (${gb(floats * 4)}), ` +
      `more than ${bound} allows; use a smaller --batch or --seq`,
  );
}
