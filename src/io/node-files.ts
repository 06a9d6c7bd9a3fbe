import { randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import { type FileHandle, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { Gpt2LensError } from "../errors.ts";
import { assertReplaceableFile } from "./node-output-paths.ts";
import { trackTemporary } from "./node-temporaries.ts";

function errnoCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
}

function ioError(action: string, path: string, error: unknown): Gpt2LensError {
  const code = errnoCode(error);
  const reason = error instanceof Error ? error.message : String(error);
  if (code === "ENOENT") return new Gpt2LensError("file_not_found", `cannot ${action} ${path}: no such file`, { cause: error });
  if (code === "EISDIR") return new Gpt2LensError("not_a_file", `cannot ${action} ${path}: it is a directory`, { cause: error });
  return new Gpt2LensError("io_error", `cannot ${action} ${path}: ${reason}`, { cause: error });
}

export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    throw ioError("read", path, error);
  }
}

/** True when `path` names an existing regular file; false when nothing (or a directory) is there. */
export async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return false;
    throw ioError("stat", path, error);
  }
}

/**
 * Replaces `path` with a file holding `bytes`: writes `path + ".<random>.tmp"` next to it, fsyncs it
 * and renames it over `path`, so readers see either the old file or the complete new one. A file
 * being replaced keeps its permission bits (and, for root, its owner). Anything at `path` other
 * than a regular file (a symbolic link, directory, device) is refused with `not_a_regular_file`,
 * never replaced or written through. The temp file is removed on any failure, and on SIGINT/SIGTERM.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const existing = await assertReplaceableFile(path);
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  let untrack: (() => void) | null = null;
  try {
    const handle = await open(tmp, "wx", existing ? existing.mode & 0o7777 : 0o666);
    untrack = trackTemporary(tmp);
    try {
      if (existing) await keepOwnerAndMode(handle, existing);
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    untrack();
    untrack = null;
  } catch (error) {
    if (untrack) {
      await unlink(tmp).catch(() => undefined);
      untrack();
    }
    if (errnoCode(error) === "ENOENT" && !untrack) {
      throw new Gpt2LensError(
        "directory_not_found",
        `cannot write ${path}: directory ${dirname(path)} does not exist`,
        { cause: error },
      );
    }
    throw ioError("write", path, error);
  }
  await syncDirectory(dirname(path));
}

/** The new file gets the replaced one's mode (open's mode is filtered by the umask) and, when we may, its owner. */
async function keepOwnerAndMode(handle: FileHandle, old: Stats): Promise<void> {
  await handle.chmod(old.mode & 0o7777);
  const stats = await handle.stat();
  if (stats.uid !== old.uid || stats.gid !== old.gid) await handle.chown(old.uid, old.gid).catch(() => undefined);
}

/** fsyncs a directory so a rename in it survives a crash (best effort). */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Directory fsync is best effort: some platforms (Windows) and filesystems refuse it.
  }
}
