import { loadGpt2FromDir } from "../../gpt2/node-load.ts";
import { toTokenBatch } from "../../gpt2/tokenizer.ts";
import { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import type { HookName } from "../../gpt2/hook-names.ts";
import { writeFileAtomic } from "../../io/node-files.ts";
import { serializeSafetensors, type TensorToWrite } from "../../io/safetensors.ts";
import { optionalString, parseCommandArgs, requireString, stringList } from "../args.ts";
import { BUNDLED_MODEL_DIR } from "../../gpt2/node-bundled-model.ts";
import { checkOutFile } from "../output-checks.ts";
import { UsageError } from "../usage-error.ts";

export const CACHE_USAGE = `gpt2-lens cache [--model DIR] --prompt TEXT [--prompt TEXT …] [--names N1,N2,…] --out FILE

Runs the prompts verbatim (no BOS is added) as one batch and writes the requested activations
under their TransformerLens hook names, plus "tokens" (I32) and "logits", as a safetensors file.
--model defaults to the bundled greater-than model; --names defaults to every hook point.`;

export async function cacheCommand(argv: readonly string[], log: (line: string) => void): Promise<void> {
  const { values, positionals } = parseCommandArgs("cache", argv, {
    model: { type: "string" },
    prompt: { type: "string", multiple: true },
    names: { type: "string" },
    out: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`cache: unexpected argument "${positionals[0]}"`);
  const prompts = stringList(values, "prompt");
  if (prompts.length === 0) throw new UsageError("cache: give at least one --prompt");
  const out = await checkOutFile("cache", "out", requireString("cache", values.out, "out"));
  const namesFlag = optionalString(values, "names");
  const listed = namesFlag?.split(",").map((name) => name.trim()).filter(Boolean);
  if (listed?.length === 0) {
    throw new UsageError(`cache: --names "${namesFlag}" names no hook point; give comma-separated hook names, or leave --names out for all of them`);
  }
  const model = new HookedGpt2(await loadGpt2FromDir(optionalString(values, "model") ?? BUNDLED_MODEL_DIR));
  const names = listed ?? [...model.hookNames];
  names.forEach((name) => model.assertHookName(name, "--names"));
  const tokens = toTokenBatch(prompts);
  const { logits, cache } = model.run(tokens, { cache: names as HookName[] });
  const tensors = new Map<string, TensorToWrite>();
  tensors.set("tokens", { dtype: "I32", shape: [tokens.batch, tokens.pos], data: tokens.ids });
  for (const [name, value] of cache) tensors.set(name, { dtype: "F32", shape: value.shape, data: value.data });
  tensors.set("logits", { dtype: "F32", shape: logits.shape, data: logits.data });
  await writeFileAtomic(out, serializeSafetensors(tensors, { prompts: JSON.stringify(prompts) }));
  log(`wrote ${tensors.size} tensors for ${tokens.batch} prompt(s) of ${tokens.pos} tokens to ${out}`);
}
