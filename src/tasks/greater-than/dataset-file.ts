import { Gpt2LensError } from "../../errors.ts";
import type { TokenBatch } from "../../gpt2/tokens.ts";
import { parseSafetensors, SafetensorsError } from "../../io/safetensors.ts";

export class DatasetError extends Gpt2LensError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** The prompts a greater-than run needs: clean and corrupted tokens and each prompt's YY. */
export interface GreaterThanPrompts {
  readonly tokens: TokenBatch;
  readonly corruptedTokens: TokenBatch;
  readonly yy: Int32Array;
  readonly prompts?: readonly string[];
}

function readTokens(file: ReturnType<typeof parseSafetensors>, name: string, source: string): TokenBatch {
  if (!file.has(name)) throw new DatasetError("missing_tensor", `dataset ${source} has no "${name}" tensor`);
  const shape = file.info(name).shape;
  if (shape.length !== 2) {
    throw new DatasetError("bad_dataset", `dataset ${source}: "${name}" has shape [${shape.join(", ")}], expected [prompts, positions]`);
  }
  return { ids: file.getInt32(name), batch: shape[0]!, pos: shape[1]! };
}

/** Reads a safetensors dataset with `tokens`, `corrupted_tokens` [n, pos] and `yy` [n] (e.g. the golden file). */
export function readGreaterThanDataset(bytes: Uint8Array, source = "file"): GreaterThanPrompts {
  let file;
  try {
    file = parseSafetensors(bytes);
  } catch (error) {
    if (!(error instanceof SafetensorsError)) throw error;
    throw new SafetensorsError(error.code, `dataset ${source} is not a valid safetensors file: ${error.message}`, error.tensor);
  }
  const tokens = readTokens(file, "tokens", source);
  const corruptedTokens = readTokens(file, "corrupted_tokens", source);
  if (tokens.batch !== corruptedTokens.batch || tokens.pos !== corruptedTokens.pos) {
    throw new DatasetError(
      "bad_dataset",
      `dataset ${source}: tokens [${tokens.batch}, ${tokens.pos}] and corrupted_tokens [${corruptedTokens.batch}, ${corruptedTokens.pos}] differ in shape`,
    );
  }
  if (!file.has("yy")) throw new DatasetError("missing_tensor", `dataset ${source} has no "yy" tensor`);
  const yy = file.getInt32("yy");
  if (yy.length !== tokens.batch) {
    throw new DatasetError("bad_dataset", `dataset ${source}: "yy" has ${yy.length} entries for ${tokens.batch} prompts`);
  }
  yy.forEach((value, i) => {
    if (value < 1 || value > 98) throw new DatasetError("bad_dataset", `dataset ${source}: yy[${i}] = ${value} is outside 1…98`);
  });
  let prompts: string[] | undefined;
  const listed = file.metadata.prompts;
  if (listed !== undefined) {
    try {
      const parsed: unknown = JSON.parse(listed);
      if (Array.isArray(parsed) && parsed.length === tokens.batch && parsed.every((p) => typeof p === "string")) prompts = parsed;
    } catch {
      prompts = undefined;
    }
  }
  return { tokens, corruptedTokens, yy, prompts };
}
