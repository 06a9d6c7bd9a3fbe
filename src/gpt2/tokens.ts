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
  return typeof input === "object" && input !== null && !Array.isArray(input) && (input as TokenBatch).ids instanceof Int32Array;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "no class"})`;
  return `${typeof value} ${String(value)}`;
}

const EXPECTED = "tokens must be an array of token ids, an array of such arrays (a batch) or a TokenBatch { ids: Int32Array, batch, pos }";

function assertTokenInput(input: unknown): asserts input is TokenInput {
  if (Array.isArray(input) || isTokenBatch(input as TokenInput)) return;
  const hint = typeof input === "string" ? " (turn text into ids with toTokens(text))" : "";
  throw new InputError(`${EXPECTED}; got ${describe(input)}${hint}`, "bad_tokens");
}

/**
 * Ids are checked as the numbers given, before the Int32Array conversion would wrap them
 * (2^32 + 464 would become 464).
 */
function fromRows(rows: readonly (readonly number[])[], dVocab: number): TokenBatch {
  rows.forEach((row, b) => {
    if (!Array.isArray(row)) throw new InputError(`${EXPECTED}; row ${b} is ${describe(row)}`, "bad_tokens");
  });
  const pos = rows[0]?.length ?? 0;
  rows.forEach((row, b) => {
    if (row.length !== pos) {
      throw new InputError(`token rows differ in length: row 0 has ${pos} tokens, row ${b} has ${row.length}`, "ragged_batch");
    }
  });
  const ids = new Int32Array(rows.length * pos);
  rows.forEach((row, b) => {
    // An index loop, not forEach: a hole in a sparse array is an error, not token 0.
    for (let p = 0; p < pos; p++) {
      const id: unknown = row[p];
      if (typeof id !== "number") throw new InputError(`token at [${b}, ${p}] is ${describe(id)}, not a token id`, "bad_tokens");
      if (!Number.isInteger(id)) throw new InputError(`token at [${b}, ${p}] is ${id}, not an integer id`, "token_out_of_vocab");
      if (id < 0 || id >= dVocab) {
        throw new InputError(`token id ${id} at [${b}, ${p}] is outside the vocabulary [0, ${dVocab})`, "token_out_of_vocab");
      }
      ids[b * pos + p] = id;
    }
  });
  return { ids, batch: rows.length, pos };
}

/** Accepts ids as one prompt (number[]), a batch (number[][]) or a TokenBatch, and validates them. */
export function normalizeTokens(input: TokenInput, config: Gpt2Config): TokenBatch {
  assertTokenInput(input);
  let tokens: TokenBatch;
  if (isTokenBatch(input)) tokens = input;
  else if (input.length > 0 && typeof input[0] === "object") tokens = fromRows(input as readonly (readonly number[])[], config.dVocab);
  else tokens = fromRows([input as readonly number[]], config.dVocab);
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
