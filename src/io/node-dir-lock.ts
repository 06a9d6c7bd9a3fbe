/**
 * An exclusive lock on a directory for one process: a lock file created with O_EXCL holding the
 * owner's pid. A lock whose pid is no longer running (a run killed before it could clean up) is
 * taken over.
 */
import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { Gpt2LensError } from "../errors.ts";

export const LOCK_FILE_NAME = ".gpt2-lens.lock";

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function tryCreate(path: string): Promise<boolean> {
  try {
    const handle = await open(path, "wx");
    try {
      await handle.writeFile(`${process.pid}\n`);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/**
 * Takes `dir`'s lock (creating `dir`), or throws `directory_in_use` naming the holder's pid; returns
 * the release function. `what` says what the lock is for, in the message.
 */
export async function lockDirectory(dir: string, what = "a download"): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE_NAME);
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await tryCreate(path)) {
      return async () => {
        await rm(path, { force: true });
      };
    }
    const text = await readFile(path, "utf8").catch(() => "");
    const pid = /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
    // An empty lock may be one being written right now: treat it as held.
    if (pid === undefined || pid === process.pid || isRunning(pid)) {
      const holder = pid === undefined ? "another process" : pid === process.pid ? "this process" : `process ${pid}`;
      throw new Gpt2LensError(
        "directory_in_use",
        `${dir} is in use by ${what} in ${holder} (lock file ${path}); wait for it to finish, or delete the lock file if nothing is running`,
      );
    }
    await rm(path, { force: true }); // stale: its process is gone
  }
  throw new Gpt2LensError("directory_in_use", `${dir}: could not take the lock ${path} (another process keeps taking it)`);
}
