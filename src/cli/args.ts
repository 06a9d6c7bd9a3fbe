import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./usage-error.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** node:util parseArgs with its TypeErrors turned into one-line usage errors. */
export interface ParsedArgs {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  readonly positionals: string[];
}

export function parseCommandArgs(command: string, argv: readonly string[], options: Options): ParsedArgs {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true }) as ParsedArgs;
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.split("\n")[0]}`);
  }
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

export function optionalString(values: ParsedArgs["values"], flag: string): string | undefined {
  const value = values[flag];
  return typeof value === "string" ? value : undefined;
}

export function stringList(values: ParsedArgs["values"], flag: string): string[] {
  const value = values[flag];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}
