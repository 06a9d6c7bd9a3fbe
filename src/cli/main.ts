#!/usr/bin/env node
import { Gpt2LensError } from "../errors.ts";
import { ATTENTION_USAGE, attentionCommand } from "./commands/attention.ts";
import { BENCH_USAGE, benchCommand } from "./commands/bench.ts";
import { CACHE_USAGE, cacheCommand } from "./commands/cache.ts";
import { FETCH_USAGE, fetchCommand } from "./commands/fetch.ts";
import { GREATER_THAN_USAGE, greaterThanCommand } from "./commands/greater-than.ts";
import { RELATED_TASKS_USAGE, relatedTasksCommand } from "./commands/related-tasks.ts";
import { UsageError } from "./usage-error.ts";

type Command = {
  readonly usage: string;
  readonly run: (argv: readonly string[], log: (line: string) => void) => Promise<void>;
};

const COMMANDS: Record<string, Command> = {
  "greater-than": { usage: GREATER_THAN_USAGE, run: greaterThanCommand },
  "related-tasks": { usage: RELATED_TASKS_USAGE, run: relatedTasksCommand },
  cache: { usage: CACHE_USAGE, run: cacheCommand },
  attention: { usage: ATTENTION_USAGE, run: attentionCommand },
  fetch: { usage: FETCH_USAGE, run: fetchCommand },
  bench: { usage: BENCH_USAGE, run: benchCommand },
};

const HELP = `gpt2-lens — mechanistic interpretability of GPT-2 in TypeScript

Commands:
${Object.values(COMMANDS)
  .map((command) => command.usage.split("\n")[0])
  .join("\n")}

Run "gpt2-lens <command> --help" for details.`;

export async function main(argv: readonly string[]): Promise<number> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    log(HELP);
    return name ? 0 : 2;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  try {
    if (!command) throw new UsageError(`unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(", ")})`);
    if (rest.includes("--help") || rest.includes("-h")) {
      log(command.usage);
      return 0;
    }
    await command.run(rest, log);
    return 0;
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`gpt2-lens: ${error.message} (see "gpt2-lens --help")\n`);
    return 2;
  }
  if (error instanceof Gpt2LensError) {
    process.stderr.write(`gpt2-lens: error: ${error.message}\n`);
    return 1;
  }
  const detail = process.env.GPT2_LENS_DEBUG ? `\n${(error as Error)?.stack ?? String(error)}` : "";
  process.stderr.write(`gpt2-lens: internal error: ${(error as Error)?.message ?? String(error)}${detail}\n`);
  return 70;
}

process.exitCode = await main(process.argv.slice(2));
