import { InputError } from "../errors.ts";
import { blockHook, type HookName } from "../gpt2/hook-names.ts";
import type { PastKeysValues } from "../gpt2/forward.ts";
import { BOS_TOKEN_ID, decodeTokens } from "../gpt2/tokenizer.ts";
import { concatAxis } from "../tensor/indexing.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { HookedGpt2, HookSpec } from "./hooked-gpt2.ts";
import { tokenizeInput } from "./run-input.ts";
import { checkSamplingOptions, sampleToken, seededRandom } from "./sampling.ts";

export interface GenerateOptions {
  /** How many tokens to add at most. Default 10. */
  readonly maxNewTokens?: number;
  /** 0: always the likeliest token (greedy). Default 1. */
  readonly temperature?: number;
  /** Sample among only the k likeliest tokens. Default: all. */
  readonly topK?: number;
  /** Seed of the sampling: the same seed, prompt and options give the same tokens. Default: random. */
  readonly seed?: number;
  /** A row ends once it produces the end-of-text token; generation ends when all rows have. Default true. */
  readonly stopAtEos?: boolean;
  /** Default 50256 (`<|endoftext|>`). */
  readonly eosTokenId?: number;
  /** Put BOS before text prompts. Default true. */
  readonly prependBos?: boolean;
  /** Hooks for every step's run; after the prompt's run each step computes only its new position. */
  readonly hooks?: readonly HookSpec[];
}

export interface GenerateResult {
  /** Per row: its prompt's tokens (without pads) followed by the generated ones. */
  readonly tokens: number[][];
  /** Per row: the generated tokens (up to and including the end-of-text token when stopAtEos). */
  readonly newTokens: number[][];
  /** Per row: `tokens` decoded. */
  readonly text: string[];
}

const GENERATE_KEYS = ["maxNewTokens", "temperature", "topK", "seed", "stopAtEos", "eosTokenId", "prependBos", "hooks"];

function checkOptions(options: GenerateOptions): void {
  if (typeof options !== "object" || options === null) throw new InputError("generate options must be an object", "bad_option");
  const unknown = Object.keys(options).find((key) => !GENERATE_KEYS.includes(key));
  if (unknown !== undefined) throw new InputError(`unknown generate option "${unknown}"; the options are ${GENERATE_KEYS.join(", ")}`, "bad_option");
  const { maxNewTokens, seed } = options;
  if (maxNewTokens !== undefined && (!Number.isInteger(maxNewTokens) || maxNewTokens < 0)) {
    throw new InputError(`maxNewTokens must be an integer ≥ 0, got ${String(maxNewTokens)}`, "bad_option");
  }
  if (seed !== undefined && !Number.isInteger(seed)) throw new InputError(`seed must be an integer, got ${String(seed)}`, "bad_option");
  checkSamplingOptions(options.temperature ?? 1, options.topK);
}

/**
 * Samples continuations with the key/value cache: the prompt runs once, then each step runs only
 * the new tokens against the earlier positions' keys and values (RunOptions.past). A batch of
 * prompts is padded on the left, so every row continues at the same position.
 */
export function generate(
  model: HookedGpt2,
  prompt: string | readonly string[] | readonly number[] | readonly (readonly number[])[],
  options: GenerateOptions = {},
): GenerateResult {
  checkOptions(options);
  const { maxNewTokens = 10, temperature = 1, topK, stopAtEos = true, eosTokenId = BOS_TOKEN_ID, hooks } = options;
  const random = seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  const text = typeof prompt === "string" || (Array.isArray(prompt) && typeof prompt[0] === "string");
  const padded = tokenizeInput(prompt, { paddingSide: "left", ...(text ? { prependBos: options.prependBos ?? true } : {}) });
  model.tokens(padded);
  const { batch, pos } = padded;
  if (pos + maxNewTokens > model.config.nCtx) {
    throw new InputError(`a prompt of ${pos} tokens plus ${maxNewTokens} new ones exceeds the model's context of ${model.config.nCtx}`, "prompt_too_long");
  }
  const layers = Array.from({ length: model.config.nLayers }, (_, layer) => layer);
  const kvNames: HookName[] = layers.flatMap((layer) => [blockHook(layer, "attn.hook_k"), blockHook(layer, "attn.hook_v")]);
  const promptRows = Array.from({ length: batch }, (_, b) => {
    const length = padded.attentionMask ? padded.attentionMask.data.subarray(b * pos, (b + 1) * pos).reduce((a, v) => a + v, 0) : pos;
    return Array.from(padded.ids.subarray((b + 1) * pos - length, (b + 1) * pos));
  });
  const newTokens: number[][] = Array.from({ length: batch }, () => []);
  const done = new Array<boolean>(batch).fill(false);
  let mask = padded.attentionMask;
  let past: PastKeysValues | undefined;
  let step = model.run(padded, { cache: kvNames, logitPositions: [pos - 1], ...(hooks ? { hooks } : {}) });
  for (let n = 0; n < maxNewTokens; n++) {
    const dVocab = step.logits.shape[2]!;
    const next = Array.from({ length: batch }, (_, b) =>
      done[b] ? eosTokenId : sampleToken(step.logits.data.subarray(b * dVocab, (b + 1) * dVocab), { temperature, topK }, random),
    );
    next.forEach((token, b) => {
      if (done[b]) return;
      newTokens[b]!.push(token);
      if (stopAtEos && token === eosTokenId) done[b] = true;
    });
    if (n + 1 === maxNewTokens || done.every(Boolean)) break;
    past = extendPast(past, step.cache, layers);
    if (mask) mask = appendRealColumn(mask);
    step = model.run(next.map((t) => [t]), {
      past,
      cache: kvNames,
      ...(mask ? { attentionMask: mask } : {}),
      ...(hooks ? { hooks } : {}),
    });
  }
  const tokens = promptRows.map((row, b) => [...row, ...newTokens[b]!]);
  return { tokens, newTokens, text: tokens.map((row) => decodeTokens(row)) };
}

function extendPast(past: PastKeysValues | undefined, cache: { get(name: HookName): Tensor }, layers: readonly number[]): PastKeysValues {
  const grow = (earlier: Tensor | undefined, latest: Tensor) => (earlier ? concatAxis([earlier, latest], 1) : latest);
  return {
    keys: layers.map((layer) => grow(past?.keys[layer], cache.get(blockHook(layer, "attn.hook_k")))),
    values: layers.map((layer) => grow(past?.values[layer], cache.get(blockHook(layer, "attn.hook_v")))),
  };
}

/** The mask [batch, keys] with one more column of 1 (the step's new, real tokens). */
function appendRealColumn(mask: Tensor): Tensor {
  const [batch, keys] = mask.shape as [number, number];
  const out = new Float32Array(batch * (keys + 1));
  for (let b = 0; b < batch; b++) {
    out.set(mask.data.subarray(b * keys, (b + 1) * keys), b * (keys + 1));
    out[b * (keys + 1) + keys] = 1;
  }
  return new Tensor(out, [batch, keys + 1]);
}
