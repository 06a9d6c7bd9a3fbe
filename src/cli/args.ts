import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./usage-error.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  readonly positionals: string[];
}

/**
 * node:util parseArgs, with each mistake named in one line: an unknown option (listing the
 * command's options), an option without its value, a value given to a flag. Unlike parseArgs's
 * strict mode, a separate value that looks like a negative number (`--batch -1`) is taken as the
 * value, so the option's own check can say what is allowed.
 */
export function parseCommandArgs(command: string, argv: readonly string[], options: Options): ParsedArgs {
  const parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: false, tokens: true });
  for (const token of parsed.tokens) {
    if (token.kind !== "option") continue;
    const { name, rawName, value, inlineValue } = token;
    const spec = Object.hasOwn(options, name) ? options[name] : undefined;
    if (spec === undefined) {
      const known = Object.keys(options).map((option) => `--${option}`).join(", ");
      throw new UsageError(`${command}: unknown option ${rawName}; ${command} takes ${known} and --help`);
    }
    if (spec.type === "boolean") {
      if (value !== undefined) throw new UsageError(`${command}: ${rawName} takes no value, got "${value}"`);
      continue;
    }
    if (value === undefined) throw new UsageError(`${command}: ${rawName} needs a value`);
    if (!inlineValue && value.startsWith("-") && !/^-\.?\d/.test(value)) {
      throw new UsageError(`${command}: ${rawName} needs a value, but "${value}" looks like an option; write ${rawName}=${value} if that is the value`);
    }
  }
  return { values: parsed.values, positionals: parsed.positionals } as ParsedArgs;
}

export function requireString(command: string, value: unknown, flag: string): string {
  if (typeof value !== "string" || value === "") throw new UsageError(`${command}: missing --${flag}`);
  return value;
}

export function parsePositiveInt(command: string, value: unknown, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed <= 0) {
    throw new UsageError(`${command}: --${flag} must be a positive integer, got "${String(value)}"`);
  }
  return parsed;
}

const MAX_SEED = 2 ** 32 - 1;

/** A seed: an integer 0…2^32 − 1 (the generators use 32 bits, so larger seeds would repeat smaller ones). */
export function parseSeed(command: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || parsed > MAX_SEED) {
    throw new UsageError(`${command}: --seed must be an integer from 0 to ${MAX_SEED}, got "${String(value)}"`);
  }
  return parsed;
}

export function optionalString(values: ParsedArgs["values"], flag: string): string | undefined {
  const value = values[flag];
  return typeof value === "string" ? value : undefined;
}

export function stringList(values: ParsedArgs["values"], flag: string): string[] {
  const value = values[flag];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}
