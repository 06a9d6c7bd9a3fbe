import { InputError } from "../errors.ts";
import { Tensor } from "../tensor/tensor.ts";
import { BOS_TOKEN_ID } from "./tokenizer.ts";
import type { TokenBatch } from "./tokens.ts";

/** Where a shorter prompt's pads go, as TransformerLens's `padding_side`. */
export type PaddingSide = "left" | "right";

export interface PaddingOptions {
  /** Default "right", as TransformerLens's default. */
  readonly paddingSide?: PaddingSide;
  /** The id pads get; default 50256 (`<|endoftext|>`, which TransformerLens pads GPT-2 with). */
  readonly padTokenId?: number;
}

/** A batch of prompts of different lengths, padded to the longest, with what tells pads apart. */
export interface PaddedTokens extends TokenBatch {
  /** [batch, pos]: 1 for a prompt's token, 0 for a pad; null when no row needed padding. */
  readonly attentionMask: Tensor | null;
  /** Per row, the index of its last real token. */
  readonly lastTokenIndex: readonly number[];
}

export function isPaddedTokens(value: unknown): value is PaddedTokens {
  return typeof value === "object" && value !== null && "attentionMask" in value && "lastTokenIndex" in value && (value as unknown as TokenBatch).ids instanceof Int32Array;
}

export function checkPaddingSide(side: unknown): asserts side is PaddingSide | undefined {
  if (side !== undefined && side !== "left" && side !== "right") {
    throw new InputError(`paddingSide must be "left" or "right", got ${JSON.stringify(side)}`, "bad_option");
  }
}

/** Pads rows of ids (checked later with the batch) to the longest row. */
export function padTokenRows(rows: readonly (readonly number[])[], options: PaddingOptions = {}): PaddedTokens {
  const { paddingSide = "right", padTokenId = BOS_TOKEN_ID } = options;
  checkPaddingSide(paddingSide);
  if (!Number.isInteger(padTokenId) || padTokenId < 0) {
    throw new InputError(`padTokenId must be a token id, got ${padTokenId}`, "bad_option");
  }
  if (rows.length === 0) throw new InputError("cannot build a token batch from zero prompts", "empty_batch");
  rows.forEach((row, b) => {
    if (!Array.isArray(row)) throw new InputError(`row ${b} of the batch is not an array of token ids`, "bad_tokens");
    if (row.length === 0) throw new InputError(`prompt ${b} is empty: it has no tokens`, "empty_prompt");
  });
  const pos = Math.max(...rows.map((row) => row.length));
  const batch = rows.length;
  const ids = new Int32Array(batch * pos).fill(padTokenId);
  const padded = rows.some((row) => row.length !== pos);
  const mask = padded ? new Float32Array(batch * pos) : null;
  const lastTokenIndex = rows.map((row, b) => {
    const first = paddingSide === "left" ? pos - row.length : 0;
    // Ids are copied one by one so a bad one (not a number, outside int32) is reported, not wrapped.
    row.forEach((id, p) => {
      if (typeof id !== "number") throw new InputError(`token at [${b}, ${p}] is ${String(id)}, not a token id`, "bad_tokens");
      if (!Number.isInteger(id) || id < 0 || id >= 2 ** 31) {
        throw new InputError(`token at [${b}, ${p}] is ${id}, not a token id`, "token_out_of_vocab");
      }
      ids[b * pos + first + p] = id;
    });
    mask?.fill(1, b * pos + first, b * pos + first + row.length);
    return first + row.length - 1;
  });
  return { ids, batch, pos, attentionMask: mask && new Tensor(mask, [batch, pos]), lastTokenIndex };
}
