import { execFileSync } from "node:child_process";
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Gpt2LensError } from "../../src/errors.ts";
import { fileExists, readFileBytes, writeFileAtomic } from "../../src/io/node-files.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpt2-lens-node-files-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<Gpt2LensError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Gpt2LensError);
  return error as Gpt2LensError;
}

describe("writeFileAtomic", () => {
  it("writes the bytes and leaves no temp file behind", async () => {
    const path = join(dir, "a.bin");
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    await writeFileAtomic(path, new Uint8Array([4, 5]));
    expect([...(await readFileBytes(path))]).toEqual([4, 5]);
    expect(await readdir(dir)).toEqual(["a.bin"]);
  });

  it("fails with a typed error naming the path when the directory does not exist", async () => {
    const path = join(dir, "missing", "b.bin");
    const error = await rejection(writeFileAtomic(path, new Uint8Array([1])));
    expect(error.code).toBe("directory_not_found");
    expect(error.message).toContain(path);
    expect(await fileExists(path)).toBe(false);
  });

  it("keeps the old target and removes the temp file when writing fails midway", async () => {
    const sub = join(dir, "keep");
    await mkdir(sub);
    const path = join(sub, "c.bin");
    await writeFile(path, "old");
    const error = await rejection(writeFileAtomic(path, 42 as unknown as Uint8Array));
    expect(error.code).toBe("io_error");
    expect(await readFile(path, "utf8")).toBe("old");
    expect(await readdir(sub)).toEqual(["c.bin"]);
  });

  it("keeps a directory in the way untouched and removes the temp file when the rename fails", async () => {
    const sub = join(dir, "blocked");
    const target = join(sub, "target");
    await mkdir(target, { recursive: true });
    await writeFile(join(target, "inside"), "x");
    const error = await rejection(writeFileAtomic(target, new Uint8Array([1])));
    expect(error.message).toContain(target);
    expect(await readdir(sub)).toEqual(["target"]);
    expect(await readdir(target)).toEqual(["inside"]);
  });
});

describe("writeFileAtomic replaces only regular files, keeping their mode", () => {
  it("keeps a 0600 file 0600 (and a 0640 one 0640) whatever the umask", async () => {
    for (const mode of [0o600, 0o640, 0o444]) {
      const path = join(dir, `mode-${mode.toString(8)}.bin`);
      await writeFile(path, "old");
      await chmod(path, mode);
      await writeFileAtomic(path, new Uint8Array([1]));
      expect(((await stat(path)).mode & 0o7777).toString(8)).toBe(mode.toString(8));
      expect([...(await readFileBytes(path))]).toEqual([1]);
    }
  });

  it("refuses to replace or write through a symbolic link, leaving the link and its target alone", async () => {
    const sub = join(dir, "link");
    await mkdir(sub);
    const target = join(sub, "target.bin");
    const link = join(sub, "link.bin");
    await writeFile(target, "target");
    await symlink(target, link);
    const error = await rejection(writeFileAtomic(link, new Uint8Array([1])));
    expect(error.code).toBe("not_a_regular_file");
    expect(error.message).toBe(
      `${link} is a symbolic link (to ${target}); output files are written only as regular files, never through or over a link: give the link's target, or remove the link`,
    );
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe(target);
    expect(await readFile(target, "utf8")).toBe("target");
    expect((await readdir(sub)).sort()).toEqual(["link.bin", "target.bin"]);
  });

  it("refuses a named pipe (a device node is refused the same way), creating no temp file", async () => {
    const sub = join(dir, "fifo");
    await mkdir(sub);
    const fifo = join(sub, "pipe");
    execFileSync("mkfifo", [fifo]);
    const error = await rejection(writeFileAtomic(fifo, new Uint8Array([1])));
    expect(error.code).toBe("not_a_regular_file");
    expect(error.message).toMatch(/pipe is a named pipe; output is written only to a new path or over a regular file$/);
    expect((await lstat(fifo)).isFIFO()).toBe(true);
    expect(await readdir(sub)).toEqual(["pipe"]);
  });
});

describe("readFileBytes and fileExists", () => {
  it("reads a file as a plain Uint8Array", async () => {
    const path = join(dir, "r.bin");
    await writeFile(path, new Uint8Array([9, 8, 7]));
    const bytes = await readFileBytes(path);
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
    expect([...bytes]).toEqual([9, 8, 7]);
  });

  it("reports a missing file as file_not_found naming the path", async () => {
    const path = join(dir, "nope.safetensors");
    const error = await rejection(readFileBytes(path));
    expect(error.code).toBe("file_not_found");
    expect(error.message).toContain(path);
  });

  it("reports a directory as not_a_file", async () => {
    expect((await rejection(readFileBytes(dir))).code).toBe("not_a_file");
  });

  it("tells files from missing paths and directories", async () => {
    const path = join(dir, "e.bin");
    await writeFile(path, "");
    expect(await fileExists(path)).toBe(true);
    expect(await fileExists(join(dir, "absent"))).toBe(false);
    expect(await fileExists(join(path, "under-a-file"))).toBe(false);
    expect(await fileExists(dir)).toBe(false);
  });
});
