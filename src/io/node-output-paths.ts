/**
 * Checks of an output location that can be made before any work: a command that will run for
 * minutes learns at once that its output cannot be written there.
 */
import { constants, type Stats } from "node:fs";
import { access, lstat, readlink, stat, statfs } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import { Gpt2LensError } from "../errors.ts";

/** An output path that cannot be written: `code` says why, `path` is the path as resolved. */
export class OutputPathError extends Gpt2LensError {
  readonly path: string;
  constructor(code: string, message: string, path: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.path = path;
  }
}

export function errnoCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
}

/** Kernel pseudo filesystems (statfs f_type): nothing of ours belongs there. */
const PSEUDO_FILESYSTEMS = new Map<number, string>([
  [0x9fa0, "proc"],
  [0x62656572, "sysfs"],
  [0x64626720, "debugfs"],
  [0x74726163, "tracefs"],
  [0x73636673, "securityfs"],
  [0x27e0eb, "cgroup"],
  [0x63677270, "cgroup2"],
  [0x62656570, "configfs"],
  [0xcafe4a11, "bpf"],
  [0x6165676c, "pstore"],
  [0xde5e81e4, "efivarfs"],
  [0x1cd1, "devpts"],
]);

/** Where those are mounted on Linux; checked by name first because statfs needs an existing path. */
const PSEUDO_ROOTS = new Map([["/proc", "proc"], ["/sys", "sysfs"]]);

/**
 * Refuses a path on a kernel pseudo filesystem (/proc, /sys, …): writes there fail or do harm, and
 * Node's fs.mkdir({ recursive: true }) loops forever under /proc. `existing` is the path's nearest
 * existing ancestor (or the path itself).
 */
export async function refuseSpecialFilesystem(abs: string, existing: string): Promise<void> {
  let kind = [...PSEUDO_ROOTS].find(([root]) => abs === root || abs.startsWith(`${root}${sep}`))?.[1];
  if (kind === undefined) {
    try {
      kind = PSEUDO_FILESYSTEMS.get(Number((await statfs(existing)).type));
    } catch {
      kind = undefined; // statfs is missing on some platforms; the name check above still holds
    }
  }
  if (kind !== undefined) {
    throw new OutputPathError("special_filesystem", `${abs} is on the kernel's ${kind} filesystem, not a place for output files`, abs);
  }
}

/** The path itself if it exists, else its nearest existing ancestor, with its stat (links followed). */
export async function nearestExisting(abs: string): Promise<{ path: string; stats: Stats }> {
  let path = abs;
  for (;;) {
    try {
      return { path, stats: await stat(path) };
    } catch (error) {
      const code = errnoCode(error);
      const parent = dirname(path);
      if ((code !== "ENOENT" && code !== "ENOTDIR") || parent === path) {
        throw new OutputPathError("io_error", `cannot check ${abs}: ${(error as Error).message}`, abs, { cause: error });
      }
      path = parent;
    }
  }
}

export async function describeKind(path: string, stats: Stats): Promise<string> {
  if (stats.isSymbolicLink()) return `a symbolic link (to ${await readlink(path).catch(() => "?")})`;
  if (stats.isDirectory()) return "a directory";
  if (stats.isFile()) return "a file";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isFIFO()) return "a named pipe";
  if (stats.isSocket()) return "a socket";
  return "not a regular file";
}

/** Refuses `dir` (where `abs` is to be created or replaced) unless this process may create files in it. */
export async function requireWritable(dir: string, abs: string): Promise<void> {
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = errnoCode(error);
    const why = code === "EROFS" ? "it is on a read-only file system" : code === "EACCES" || code === "EPERM" ? "permission denied" : (error as Error).message;
    const where = dir === abs ? `${abs} is not writable` : `cannot write ${abs}: ${dir} is not writable`;
    throw new OutputPathError("not_writable", `${where} (${why})`, abs, { cause: error });
  }
}

/**
 * Checks that `dir` can hold output files: it is a directory or can be created as one (no file in
 * the way, on any component), in a writable place, not on a pseudo filesystem. Returns the resolved
 * path. Throws OutputPathError: `not_a_directory`, `not_writable`, `special_filesystem`.
 */
export async function checkOutputDirectory(dir: string): Promise<string> {
  const abs = resolve(dir);
  const found = await nearestExisting(abs);
  await refuseSpecialFilesystem(abs, found.path);
  if (!found.stats.isDirectory()) {
    const kind = await describeKind(found.path, found.stats);
    const message = found.path === abs ? `${abs} is ${kind}, not a directory` : `${abs} cannot be created: ${found.path} is ${kind}, not a directory`;
    throw new OutputPathError("not_a_directory", message, abs);
  }
  await requireWritable(found.path, abs);
  return abs;
}

/**
 * Checks that `path` can be written as a file by replacing it (see writeFileAtomic): its directory
 * exists and is writable, not on a pseudo filesystem, and the path is free or a regular file (a
 * symbolic link, directory or device is refused, never replaced or written through). Returns the
 * resolved path. Throws OutputPathError: `directory_not_found`, `not_a_directory`,
 * `not_a_regular_file`, `not_writable`, `special_filesystem`.
 */
export async function checkOutputFile(path: string): Promise<string> {
  const abs = resolve(path);
  const parent = dirname(abs);
  const found = await nearestExisting(parent);
  await refuseSpecialFilesystem(abs, found.path);
  if (!found.stats.isDirectory()) {
    const kind = await describeKind(found.path, found.stats);
    throw new OutputPathError("not_a_directory", `cannot write ${abs}: ${found.path} is ${kind}, not a directory`, abs);
  }
  if (found.path !== parent) {
    throw new OutputPathError("directory_not_found", `cannot write ${abs}: directory ${parent} does not exist`, abs);
  }
  await assertReplaceableFile(abs);
  await requireWritable(parent, abs);
  return abs;
}

/** Throws `not_a_regular_file` when something other than a regular file is at `abs`; returns its stats, if any. */
export async function assertReplaceableFile(abs: string): Promise<Stats | undefined> {
  let stats: Stats;
  try {
    stats = await lstat(abs);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new OutputPathError("io_error", `cannot check ${abs}: ${(error as Error).message}`, abs, { cause: error });
  }
  if (stats.isFile()) return stats;
  const kind = await describeKind(abs, stats);
  const advice = stats.isSymbolicLink()
    ? "output files are written only as regular files, never through or over a link: give the link's target, or remove the link"
    : "output is written only to a new path or over a regular file";
  throw new OutputPathError("not_a_regular_file", `${abs} is ${kind}; ${advice}`, abs);
}
