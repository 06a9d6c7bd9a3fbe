import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
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
