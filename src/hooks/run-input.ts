import { InputError } from "../errors.ts";
import { checkPaddingSide, isPaddedTokens, padTokenRows, type PaddedTokens, type PaddingSide } from "../gpt2/padding.ts";
import { toTokens } from "../gpt2/tokenizer.ts";
import type { TokenInput } from "../gpt2/tokens.ts";
import { Tensor } from "../tensor/tensor.ts";

/** What run(), runUntil() and generate() take: text, ids, or a padded batch from toTokens. */
export type RunInput = TokenInput | string | readonly string[] | PaddedTokens;

export interface TokenizeInputOptions {
  /** Put BOS before each text prompt (TransformerLens's prepend_bos). Default true; ids are taken as given. */
  readonly prependBos?: boolean;
  /** Where shorter prompts of a batch are padded. Default "right". */
  readonly paddingSide?: PaddingSide;
  /** The id pads get. Default 50256 (`<|endoftext|>`). */
  readonly padTokenId?: number;
}

/** A run's input as ids, and its mask when the batch is padded. */
export interface ResolvedInput {
  readonly tokens: TokenInput;
  readonly attentionMask: Tensor | null;
  readonly lastTokenIndex: readonly number[] | null;
}

function isTextBatch(input: unknown): input is readonly string[] {
  return Array.isArray(input) && input.length > 0 && input.every((p) => typeof p === "string");
}

/** Tokenizes text as TransformerLens's to_tokens: BOS first unless prependBos is false. */
export function tokenizeInput(input: RunInput, options: TokenizeInputOptions = {}): PaddedTokens {
  checkPaddingSide(options.paddingSide);
  if (isPaddedTokens(input)) return input;
  if (typeof input === "string" || isTextBatch(input)) {
    const prompts = typeof input === "string" ? [input] : input;
    const rows = prompts.map((text, i) => {
      try {
        return toTokens(text, { prependBos: options.prependBos ?? true });
      } catch (error) {
        if (error instanceof InputError && prompts.length > 1) throw new InputError(`prompt ${i}: ${error.message}`, error.code);
        throw error;
      }
    });
    return padTokenRows(rows, options);
  }
  if (Array.isArray(input) && input.length > 0 && Array.isArray(input[0])) {
    return padTokenRows(input as readonly (readonly number[])[], options);
  }
  if (Array.isArray(input)) return padTokenRows([input as readonly number[]], options);
  throw new InputError("toTokens takes a string, a list of strings, token ids or a list of rows of ids", "bad_tokens");
}

/** A mask given as rows of 0/1 becomes a Tensor; its values and shape are checked by the pass. */
function maskTensor(mask: unknown): Tensor {
  if (mask instanceof Tensor) return mask;
  if (Array.isArray(mask) && mask.every((row) => Array.isArray(row) && row.length === (mask[0] as unknown[]).length)) {
    const rows = mask as number[][];
    return Tensor.from(rows.flat(), [rows.length, rows[0]?.length ?? 0]);
  }
  throw new InputError("attentionMask must be a Tensor [batch, positions] or equally long rows of 0 and 1", "bad_mask");
}

/**
 * Text is tokenized and padded; a padded batch brings its mask. Ids are used as given (a ragged
 * batch of ids stays an error: pad it with model.toTokens). A mask given as an option is used only
 * with input that has none.
 */
export function resolveRunInput(input: RunInput, options: TokenizeInputOptions & { readonly attentionMask?: unknown }): ResolvedInput {
  const text = typeof input === "string" || isTextBatch(input);
  const padded = text || isPaddedTokens(input) ? tokenizeInput(input, options) : null;
  if (!text && (options.prependBos !== undefined || options.paddingSide !== undefined || options.padTokenId !== undefined)) {
    throw new InputError("prependBos, paddingSide and padTokenId apply to text input; ids are run as given (pad them with model.toTokens)", "bad_option");
  }
  if (options.attentionMask !== undefined) {
    if (padded?.attentionMask) throw new InputError("attentionMask given for input that is already padded with its own mask", "bad_option");
    return { tokens: padded ?? (input as TokenInput), attentionMask: maskTensor(options.attentionMask), lastTokenIndex: null };
  }
  if (padded) return { tokens: padded, attentionMask: padded.attentionMask, lastTokenIndex: padded.lastTokenIndex };
  return { tokens: input as TokenInput, attentionMask: null, lastTokenIndex: null };
}

/** Per row, the index of its last real token among the pass's `pos` positions (−1: none). */
export function lastRealIndices(mask: Tensor | null, batch: number, pos: number): number[] {
  if (mask === null) return new Array<number>(batch).fill(pos - 1);
  const keys = mask.shape[1]!;
  return Array.from({ length: batch }, (_, b) => {
    for (let j = keys - 1; j >= keys - pos; j--) if (mask.data[b * keys + j] !== 0) return j - (keys - pos);
    return -1;
  });
}

/**
 * Text (BOS first) or ids for an analysis that needs prompts of equal token length, such as
 * activation patching: text whose prompts would need padding is `ragged_batch`.
 */
export function unpaddedTokens(input: TokenInput | string | readonly string[], what: string): TokenInput {
  if (typeof input !== "string" && !isTextBatch(input)) return input as TokenInput;
  const tokens = tokenizeInput(input);
  if (tokens.attentionMask !== null) {
    throw new InputError(`${what} prompts have different token lengths (${tokens.lastTokenIndex.map((i) => i + 1).join(", ")}); they must be equally long`, "ragged_batch");
  }
  return tokens;
}
