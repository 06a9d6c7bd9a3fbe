import { InputError } from "../errors.ts";
import type { Gpt2Config } from "./config.ts";

/** Token ids of a batch of equally long prompts, row-major [batch, pos]. */
export interface TokenBatch {
  readonly ids: Int32Array;
  readonly batch: number;
  readonly pos: number;
}

export type TokenInput = TokenBatch | readonly number[] | readonly (readonly number[])[];

function isTokenBatch(input: TokenInput): input is TokenBatch {
  return !Array.isArray(input) && (input as TokenBatch).ids instanceof Int32Array;
}

function fromRows(rows: readonly (readonly number[])[]): TokenBatch {
  const pos = rows[0]?.length ?? 0;
  rows.forEach((row, b) => {
    if (row.length !== pos) {
      throw new InputError(`token rows differ in length: row 0 has ${pos} tokens, row ${b} has ${row.length}`, "ragged_batch");
    }
  });
  const ids = new Int32Array(rows.length * pos);
  rows.forEach((row, b) => {
    row.forEach((id, p) => {
      if (!Number.isInteger(id)) throw new InputError(`token at [${b}, ${p}] is ${id}, not an integer id`, "token_out_of_vocab");
      ids[b * pos + p] = id;
    });
  });
  return { ids, batch: rows.length, pos };
}

/** Accepts ids as one prompt (number[]), a batch (number[][]) or a TokenBatch, and validates them. */
export function normalizeTokens(input: TokenInput, config: Gpt2Config): TokenBatch {
  let tokens: TokenBatch;
  if (isTokenBatch(input)) tokens = input;
  else if (input.length > 0 && Array.isArray(input[0])) tokens = fromRows(input as readonly (readonly number[])[]);
  else tokens = fromRows([input as readonly number[]]);
  if (tokens.ids.length !== tokens.batch * tokens.pos) {
    throw new InputError(`token batch holds ${tokens.ids.length} ids but claims [${tokens.batch}, ${tokens.pos}]`, "bad_shape");
  }
  if (tokens.batch === 0 || tokens.pos === 0) {
    throw new InputError(`empty prompt: token batch has shape [${tokens.batch}, ${tokens.pos}]`, "empty_prompt");
  }
  if (tokens.pos > config.nCtx) {
    throw new InputError(`prompt of ${tokens.pos} tokens is longer than the model's context of ${config.nCtx}`, "prompt_too_long");
  }
  for (let i = 0; i < tokens.ids.length; i++) {
    const id = tokens.ids[i]!;
    if (id < 0 || id >= config.dVocab) {
      const b = Math.floor(i / tokens.pos), p = i % tokens.pos;
      throw new InputError(`token id ${id} at [${b}, ${p}] is outside the vocabulary [0, ${config.dVocab})`, "token_out_of_vocab");
    }
  }
  return tokens;
}
