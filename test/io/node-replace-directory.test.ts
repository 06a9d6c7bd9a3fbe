import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Gpt2LensError } from "../../src/errors.ts";
import { replaceDirectory } from "../../src/io/node-replace-directory.ts";

const work = mkdtempSync(join(tmpdir(), "gpt2-lens-replace-dir-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const bytes = (text: string) => new TextEncoder().encode(text);
let cases = 0;

async function rejection(promise: Promise<unknown>): Promise<Gpt2LensError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(Gpt2LensError);
  return error as Gpt2LensError;
}

describe("replaceDirectory", () => {
  it("creates the target with its parents, or replaces it by exactly the new files", async () => {
    const parent = join(work, `case-${cases++}`);
    const target = join(parent, "a", "b");
    await replaceDirectory(target, [{ name: "x.txt", bytes: bytes("1") }, { name: "y.txt", bytes: bytes("2") }]);
    expect(readdirSync(target).sort()).toEqual(["x.txt", "y.txt"]);
    await replaceDirectory(target, [{ name: "x.txt", bytes: bytes("3") }]);
    expect(readdirSync(target)).toEqual(["x.txt"]);
    expect(readFileSync(join(target, "x.txt"), "utf8")).toBe("3");
    expect(readdirSync(join(parent, "a"))).toEqual(["b"]);
  });

  it("keeps the old directory and leaves no temporary when a write fails midway", async () => {
    const parent = join(work, `case-${cases++}`);
    const target = join(parent, "out");
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, "old.txt"), "old");
    const error = await rejection(replaceDirectory(target, [{ name: "ok.txt", bytes: bytes("1") }, { name: "no/such/dir.txt", bytes: bytes("2") }]));
    expect(error.code).toBe("io_error");
    expect(error.message).toContain(target);
    expect(readdirSync(parent)).toEqual(["out"]);
    expect(readdirSync(target)).toEqual(["old.txt"]);
  });

  it("refuses a path under /proc before any mkdir (a recursive mkdir there loops forever)", async () => {
    const started = performance.now();
    const error = await rejection(replaceDirectory("/proc/gpt2-lens-test/report", [{ name: "x", bytes: bytes("1") }]));
    expect(error.code).toBe("special_filesystem");
    expect(error.message).toBe("/proc/gpt2-lens-test/report is on the kernel's proc filesystem, not a place for output files");
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
