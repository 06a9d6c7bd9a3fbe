/**
 * GPT-2's byte-level BPE (the r50k_base encoding), as TransformerLens uses it.
 *
 * `<|endoftext|>` written in a prompt becomes the single token 50256; no other text is special.
 * Decoding does not use gpt-tokenizer's `decode`: that function keeps the unfinished bytes of a
 * multi-byte character in a TextDecoder shared by every call, so decoding a token that ends
 * mid-character changes what the *next* call returns. Here every call decodes its own bytes and
 * an incomplete character becomes U+FFFD, as HF's tokenizer does (`errors="replace"`).
 */
import { encode } from "gpt-tokenizer/encoding/r50k_base";
import bytePairRanks from "gpt-tokenizer/bpeRanks/r50k_base";
import { InputError } from "../errors.ts";

export const BOS_TOKEN_ID = 50256;
export const GPT2_VOCAB_SIZE = 50257;

const END_OF_TEXT = "<|endoftext|>";
const ONLY_END_OF_TEXT_IS_SPECIAL = {
  allowedSpecial: new Set([END_OF_TEXT]),
  disallowedSpecial: new Set<string>(),
};

export interface TokenizeOptions {
  /** Put BOS (= `<|endoftext|>`, 50256) before the prompt's own tokens. Default false. */
  prependBos?: boolean;
}

/** Prompts of equal token length, row-major `[batch, pos]`. */
export interface TokenBatch {
  ids: Int32Array;
  batch: number;
  pos: number;
}

export function toTokens(text: string, options: TokenizeOptions = {}): number[] {
  const tokens = encode(text, ONLY_END_OF_TEXT_IS_SPECIAL);
  if (options.prependBos) tokens.unshift(BOS_TOKEN_ID);
  if (tokens.length === 0) {
    throw new InputError("the prompt is empty: it produced no tokens (pass prependBos to start with BOS)", "empty_prompt");
  }
  return tokens;
}

/**
 * One string per token, each token decoded on its own (TransformerLens `to_str_tokens`).
 * `prependBos` applies to text only; token ids are shown as given.
 */
export function toStrTokens(textOrTokens: string | readonly number[], options: TokenizeOptions = {}): string[] {
  const tokens = typeof textOrTokens === "string" ? toTokens(textOrTokens, options) : textOrTokens;
  checkTokensInVocab(tokens);
  return tokens.map((token) => decodeBytes(tokenBytes(token)));
}

export function decodeTokens(tokens: readonly number[]): string {
  checkTokensInVocab(tokens);
  const parts = tokens.map(tokenBytes);
  const bytes = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return decodeBytes(bytes);
}

/** Tokenizes every prompt; all must have the same number of tokens. */
export function toTokenBatch(texts: readonly string[], options: TokenizeOptions = {}): TokenBatch {
  if (texts.length === 0) throw new InputError("cannot build a token batch from zero prompts", "empty_batch");
  const rows = texts.map((text, index) => {
    try {
      return toTokens(text, options);
    } catch (error) {
      if (error instanceof InputError) throw new InputError(`prompt ${index}: ${error.message}`, error.code);
      throw error;
    }
  });
  const pos = rows[0].length;
  if (rows.some((row) => row.length !== pos)) throw raggedBatchError(rows);
  const ids = new Int32Array(rows.length * pos);
  rows.forEach((row, index) => ids.set(row, index * pos));
  return { ids, batch: rows.length, pos };
}

function raggedBatchError(rows: readonly number[][]): InputError {
  const promptsByLength = new Map<number, number[]>();
  rows.forEach((row, index) => {
    const prompts = promptsByLength.get(row.length) ?? [];
    prompts.push(index);
    promptsByLength.set(row.length, prompts);
  });
  const groups = [...promptsByLength].map(([length, prompts]) => {
    const shown = prompts.slice(0, 8).join(", ");
    const more = prompts.length > 8 ? `, … ${prompts.length - 8} more` : "";
    return `${length} tokens: prompt${prompts.length === 1 ? "" : "s"} ${shown}${more}`;
  });
  return new InputError(`prompts have different token lengths (${groups.join("; ")})`, "ragged_batch");
}

function checkTokensInVocab(tokens: readonly number[]): void {
  tokens.forEach((token, index) => {
    if (!Number.isInteger(token) || token < 0 || token >= GPT2_VOCAB_SIZE) {
      throw new InputError(
        `token ${token} at index ${index} is outside the GPT-2 vocabulary [0, ${GPT2_VOCAB_SIZE})`,
        "token_out_of_vocab",
      );
    }
  });
}

const textEncoder = new TextEncoder();
// Never used with `stream: true`, so no call leaves bytes behind for the next; keeps a leading U+FEFF.
const textDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
const bytesByToken = new Map<number, Uint8Array>();

function tokenBytes(token: number): Uint8Array {
  let bytes = bytesByToken.get(token);
  if (bytes === undefined) {
    const entry = token === BOS_TOKEN_ID ? END_OF_TEXT : bytePairRanks[token];
    if (entry === undefined) {
      throw new InputError(`token ${token} has no entry in the GPT-2 vocabulary`, "token_out_of_vocab");
    }
    bytes = typeof entry === "string" ? textEncoder.encode(entry) : Uint8Array.from(entry);
    bytesByToken.set(token, bytes);
  }
  return bytes;
}

function decodeBytes(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}
