import { checkOutputDirectory, checkOutputFile, OutputPathError } from "../io/node-output-paths.ts";
import { checkReplaceableDirectory, type ReplaceableTarget } from "../io/node-replace-directory.ts";
import { UsageError } from "./usage-error.ts";

/** A place the output cannot go is a usage error (exit 2), found before any work is done. */
async function asUsageError<T>(command: string, flag: string, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    if (error instanceof OutputPathError) throw new UsageError(`${command}: --${flag}: ${error.message}`);
    throw error;
  }
}

export const checkOutFile = (command: string, flag: string, path: string): Promise<string> =>
  asUsageError(command, flag, () => checkOutputFile(path));

export const checkOutDirectory = (command: string, flag: string, path: string): Promise<string> =>
  asUsageError(command, flag, () => checkOutputDirectory(path));

export const checkOutReplaceableDirectory = (
  command: string, flag: string, path: string, isOwnFile: (name: string) => boolean, what: string,
): Promise<ReplaceableTarget> => asUsageError(command, flag, () => checkReplaceableDirectory(path, isOwnFile, what));
