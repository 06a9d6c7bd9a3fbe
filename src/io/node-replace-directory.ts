/**
 * A directory of output files replaced as a whole: the new files are written into a temporary
 * directory beside the target, and only when all are on disk is it renamed into place, so the
 * target holds either the previous run's files, untouched, or the new run's, complete — never a mix.
 */
import { randomBytes } from "node:crypto";
import { lstat, mkdir, open, readdir, realpath } from "node:fs/promises";
import { renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Gpt2LensError } from "../errors.ts";
import {
  checkOutputDirectory, errnoCode, nearestExisting, OutputPathError, refuseSpecialFilesystem, requireWritable,
} from "./node-output-paths.ts";
import { syncDirectory } from "./node-files.ts";
import { trackTemporary } from "./node-temporaries.ts";

export interface DirectoryFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface ReplaceableTarget {
  /** The directory to replace (a symbolic link's target, when the given path is a link). */
  readonly path: string;
  /** The symbolic link given, when `path` is its target. */
  readonly viaLink: string | null;
}

/**
 * Checks, before any work, that `dir` can later be replaced by {@link replaceDirectory}: the place
 * is writable and not on a pseudo filesystem, nothing but a directory is in the way, and an existing
 * directory holds only files that `isOwnFile` accepts (an earlier run's output), since all of it
 * is replaced. A symbolic link to a directory is followed: its target is replaced.
 * Throws OutputPathError: `not_a_directory`, `not_writable`, `special_filesystem`, `not_an_output_directory`.
 */
export async function checkReplaceableDirectory(dir: string, isOwnFile: (name: string) => boolean, what: string): Promise<ReplaceableTarget> {
  const given = resolve(dir);
  let path = given;
  let viaLink: string | null = null;
  if ((await lstat(given).catch(() => null))?.isSymbolicLink()) {
    path = await realpath(given).catch(() => given);
    viaLink = given;
  }
  const found = await nearestExisting(path);
  if (found.path !== path || !found.stats.isDirectory()) {
    await checkOutputDirectory(path);
    return { path, viaLink };
  }
  await refuseSpecialFilesystem(path, path);
  // An existing directory is renamed away, which needs its parent (not itself) to be writable.
  await requireWritable(dirname(path), path);
  const foreign: string[] = [];
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (!entry.isFile() || !isOwnFile(entry.name)) foreign.push(entry.isDirectory() ? `${entry.name}/` : entry.name);
  }
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(", ") + (foreign.length > 3 ? `, … (${foreign.length} in all)` : "");
    throw new OutputPathError(
      "not_an_output_directory",
      `${path} holds ${shown}, which ${foreign.length === 1 ? "is" : "are"} not part of a ${what}; the whole directory is replaced, so give a new or empty directory, or one holding only an earlier ${what}`,
      path,
    );
  }
  return { path, viaLink };
}

export interface ReplaceDirectoryOptions {
  /** Awaited after each file is written (a test uses it to interrupt a write midway). */
  readonly afterFile?: () => Promise<void>;
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, "wx");
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces directory `target` (or creates it, with its parents) by one holding exactly `files`.
 * They are written and fsynced into `.<name>.<random>.tmp` beside it; then, synchronously so no
 * signal handler can run in between, the old directory is renamed aside, the new one into place,
 * and the old one removed. On SIGINT/SIGTERM while writing, the temporary directory is removed and
 * the old target stays as it was.
 */
export async function replaceDirectory(target: string, files: readonly DirectoryFile[], options: ReplaceDirectoryOptions = {}): Promise<void> {
  const abs = resolve(target);
  const parent = dirname(abs);
  await refuseSpecialFilesystem(abs, (await nearestExisting(parent)).path);
  const token = randomBytes(6).toString("hex");
  const staging = join(parent, `.${basename(abs)}.${token}.tmp`);
  const backup = join(parent, `.${basename(abs)}.${token}.old.tmp`);
  let untrack: (() => void) | null = null;
  try {
    await mkdir(parent, { recursive: true });
    await mkdir(staging);
    untrack = trackTemporary(staging);
    for (const file of files) {
      await writeDurably(join(staging, file.name), file.bytes);
      await options.afterFile?.();
    }
    await syncDirectory(staging);
    swapIn(staging, abs, backup);
    untrack();
    untrack = null;
  } catch (error) {
    if (untrack) {
      rmSync(staging, { recursive: true, force: true });
      untrack();
    }
    if (error instanceof Gpt2LensError) throw error;
    throw new Gpt2LensError("io_error", `cannot write ${abs}: ${(error as Error).message}`, { cause: error });
  }
  await syncDirectory(parent);
}

function swapIn(staging: string, target: string, backup: string): void {
  let movedOld = false;
  try {
    renameSync(target, backup);
    movedOld = true;
  } catch (error) {
    if (errnoCode(error) !== "ENOENT") throw error;
  }
  try {
    renameSync(staging, target);
  } catch (error) {
    if (movedOld) renameSync(backup, target);
    throw error;
  }
  if (movedOld) rmSync(backup, { recursive: true, force: true });
}
