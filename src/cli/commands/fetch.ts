import { gpt2ContentCheck } from "../../gpt2/node-download-check.ts";
import { downloadHubModel } from "../../io/hub-download.ts";
import { parseCommandArgs, requireString } from "../args.ts";
import { createProgressBar, type ProgressBar } from "../progress.ts";
import { checkOutDirectory } from "../output-checks.ts";
import { UsageError } from "../usage-error.ts";

export const FETCH_USAGE = `gpt2-lens fetch gpt2 --to DIR

Downloads config.json and model.safetensors of openai-community/gpt2 (GPT-2 small) from the
HuggingFace hub into DIR: resumable (rerun after an interruption continues where it stopped),
SHA-256-checked against the hub's LFS hash, the final file name only after the check. When the
hub (or a mirror) sends no hash, the content itself is checked instead (config.json is a GPT-2
config, model.safetensors holds its tensors) and the output says so; an HTML or JSON error page is
refused. One fetch at a time per DIR (a lock file). The endpoint can be changed with HF_ENDPOINT
(e.g. a mirror); HF_TOKEN is sent for gated repos.`;

const MODELS: Record<string, string> = { gpt2: "openai-community/gpt2" };

export async function fetchCommand(argv: readonly string[], log: (line: string) => void): Promise<void> {
  const { values, positionals } = parseCommandArgs("fetch", argv, { to: { type: "string" } });
  const [name, ...extra] = positionals;
  if (!name) throw new UsageError("fetch: name the model to fetch (gpt2)");
  if (extra.length) throw new UsageError(`fetch: unexpected argument "${extra[0]}"`);
  const repo = Object.hasOwn(MODELS, name) ? MODELS[name]! : undefined;
  if (!repo) throw new UsageError(`fetch: unknown model "${name}" (available: ${Object.keys(MODELS).join(", ")})`);
  const to = await checkOutDirectory("fetch", "to", requireString("fetch", values.to, "to"));
  const bars = new Map<string, ProgressBar>();
  const results = await downloadHubModel({
    repo,
    files: ["config.json", "model.safetensors"],
    to,
    checkContent: gpt2ContentCheck(to),
    onProgress: ({ file, received, total }) => {
      let bar = bars.get(file);
      if (!bar) {
        bar = createProgressBar({ label: file, total, stream: process.stderr, unit: "bytes", initial: received });
        bars.set(file, bar);
      }
      bar.update(received);
    },
    onFileDone: (result) => bars.get(result.file)?.finish(),
  }).catch((error: unknown) => {
    for (const bar of bars.values()) bar.abort();
    throw error;
  });
  for (const result of results) {
    const by = result.verifiedBy === "content" ? `not by hash but ${result.contentNote ?? "checked by content"}` : `verified by ${result.verifiedBy}`;
    log(`${result.file}: ${result.outcome.replace("_", " ")} (${result.bytes} bytes, ${by}) → ${result.path}`);
  }
  log(`run: gpt2-lens greater-than --model ${to} --out greater-than-gpt2-small`);
}
