import { randomBytes } from "node:crypto";
import { open, readFile, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { Gpt2LensError } from "../errors.ts";

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
 * Writes `bytes` to `path + ".<random>.tmp"` next to the target, fsyncs it and renames it over `path`,
 * so readers see either the old file or the complete new one. The temp file is removed on any failure.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  let created = false;
  try {
    const handle = await open(tmp, "wx");
    created = true;
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    created = false;
  } catch (error) {
    if (created) await unlink(tmp).catch(() => undefined);
    if (errnoCode(error) === "ENOENT" && !created) {
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

async function syncDirectory(dir: string): Promise<void> {
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
