/**
 * Output locations are checked before any work: a file where a directory is expected (or the
 * reverse), a link, pipe or device, an unwritable or pseudo-filesystem place is a usage error
 * (exit 2) naming the path and the problem, printed before the model is even loaded.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, ROOT, type CliRun, runCliSync } from "../helpers/cli.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

const work = mkdtempSync(join(tmpdir(), "gpt2-lens-output-locations-"));
chmodSync(work, 0o755); // the unwritable-place cases run the CLI as another user when we are root
afterAll(() => rmSync(work, { recursive: true, force: true }));

let dirs = 0;
function freshDir(): string {
  const dir = join(work, `case-${dirs++}`);
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  return dir;
}

// No network: fetch must fail on the location before it asks the hub anything.
const OFFLINE = { HF_ENDPOINT: "http://127.0.0.1:9" };

function expectUsageError(run: CliRun, message: string): void {
  expect(run.signal).toBeNull();
  expect(run.stdout, "nothing done: the model is not even loaded").toBe("");
  expect(run.stderr).toBe(`gpt2-lens: ${message} (see "gpt2-lens --help")\n`);
  expect(run.status).toBe(2);
}

describe("greater-than --out, fetch --to and cache --out: what is in the way", () => {
  it("an existing file where a directory is expected", () => {
    const file = join(freshDir(), "a-file");
    writeFileSync(file, "mine");
    expectUsageError(runCliSync(["greater-than", "--n", "5", "--out", file]), `greater-than: --out: ${file} is a file, not a directory`);
    expectUsageError(runCliSync(["fetch", "gpt2", "--to", file], OFFLINE), `fetch: --to: ${file} is a file, not a directory`);
    expectUsageError(
      runCliSync(["greater-than", "--n", "5", "--out", join(file, "sub", "report")]),
      `greater-than: --out: ${join(file, "sub", "report")} cannot be created: ${file} is a file, not a directory`,
    );
    expectUsageError(
      runCliSync(["cache", "--model", TINY_DIR, "--prompt", "a", "--out", join(file, "x.safetensors")]),
      `cache: --out: cannot write ${join(file, "x.safetensors")}: ${file} is a file, not a directory`,
    );
    expect(readFileSync(file, "utf8")).toBe("mine");
  });

  it("a directory where a file is expected", () => {
    const dir = freshDir();
    expectUsageError(
      runCliSync(["cache", "--model", TINY_DIR, "--prompt", "a", "--out", dir]),
      `cache: --out: ${dir} is a directory; output is written only to a new path or over a regular file`,
    );
  });

  it("a symbolic link or a named pipe for cache --out is refused, never replaced or written through", () => {
    const dir = freshDir();
    const target = join(dir, "target.safetensors");
    writeFileSync(target, "target");
    const link = join(dir, "link.safetensors");
    symlinkSync(target, link);
    expectUsageError(
      runCliSync(["cache", "--model", TINY_DIR, "--prompt", "a", "--out", link]),
      `cache: --out: ${link} is a symbolic link (to ${target}); output files are written only as regular files, never through or over a link: give the link's target, or remove the link`,
    );
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(target);
    expect(readFileSync(target, "utf8")).toBe("target");
    const fifo = join(dir, "pipe");
    execFileSync("mkfifo", [fifo]);
    expectUsageError(
      runCliSync(["cache", "--model", TINY_DIR, "--prompt", "a", "--out", fifo]),
      `cache: --out: ${fifo} is a named pipe; output is written only to a new path or over a regular file`,
    );
    expect(readdirSync(dir).sort()).toEqual(["link.safetensors", "pipe", "target.safetensors"]);
  });

  it("a greater-than --out directory holding files that are not a report is refused (it would be replaced whole)", () => {
    const dir = freshDir();
    writeFileSync(join(dir, "notes.txt"), "mine");
    writeFileSync(join(dir, "report.json"), "{}");
    mkdirSync(join(dir, "data"));
    expectUsageError(
      runCliSync(["greater-than", "--n", "5", "--out", dir]),
      `greater-than: --out: ${dir} holds data/, notes.txt, which are not part of a greater-than report; the whole directory is replaced, so give a new or empty directory, or one holding only an earlier greater-than report`,
    );
    expect(readdirSync(dir).sort()).toEqual(["data", "notes.txt", "report.json"]);
  });
});

describe("pseudo filesystems are refused before any mkdir (Node's recursive mkdir loops forever under /proc)", () => {
  it.each([
    [["greater-than", "--n", "5", "--out", "/proc/gpt2-lens-report"], "greater-than: --out: /proc/gpt2-lens-report is on the kernel's proc filesystem, not a place for output files"],
    [["greater-than", "--n", "5", "--out", "/sys/kernel/gpt2-lens/a"], "greater-than: --out: /sys/kernel/gpt2-lens/a is on the kernel's sysfs filesystem, not a place for output files"],
    [["fetch", "gpt2", "--to", "/proc/self/gpt2"], "fetch: --to: /proc/self/gpt2 is on the kernel's proc filesystem, not a place for output files"],
    [["cache", "--model", TINY_DIR, "--prompt", "a", "--out", "/proc/self/x.safetensors"], "cache: --out: /proc/self/x.safetensors is on the kernel's proc filesystem, not a place for output files"],
  ])("%j", (args, message) => {
    const run = runCliSync(args, OFFLINE, 20_000);
    expectUsageError(run, message);
    expect(run.seconds).toBeLessThan(15);
  });
});

/** Runs the CLI as an unprivileged user when we are root (root may write anywhere). */
function runAsUser(args: readonly string[], env: Record<string, string> = {}): CliRun {
  const asOther = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const started = performance.now();
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env, GPT2_LENS_DEBUG: "" }, ...asOther,
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr, seconds: (performance.now() - started) / 1000 };
}

describe("an unwritable place", () => {
  it("is refused for all three commands, naming the path and the reason", () => {
    const readOnly = freshDir();
    chmodSync(readOnly, 0o555);
    const report = join(readOnly, "report");
    expectUsageError(runAsUser(["greater-than", "--n", "5", "--out", report]), `greater-than: --out: cannot write ${report}: ${readOnly} is not writable (permission denied)`);
    expectUsageError(runAsUser(["fetch", "gpt2", "--to", join(readOnly, "gpt2")], OFFLINE), `fetch: --to: cannot write ${join(readOnly, "gpt2")}: ${readOnly} is not writable (permission denied)`);
    const file = join(readOnly, "c.safetensors");
    expectUsageError(
      runAsUser(["cache", "--model", TINY_DIR, "--prompt", "a", "--out", file]),
      `cache: --out: cannot write ${file}: ${readOnly} is not writable (permission denied)`,
    );
    expectUsageError(runAsUser(["fetch", "gpt2", "--to", readOnly], OFFLINE), `fetch: --to: ${readOnly} is not writable (permission denied)`);
    expect(readdirSync(readOnly)).toEqual([]);
  });
});

describe("cache --out over an existing file", () => {
  it("keeps its mode: 0600 stays 0600", () => {
    const out = join(freshDir(), "private.safetensors");
    writeFileSync(out, "old");
    chmodSync(out, 0o600);
    const run = runCliSync(["cache", "--model", TINY_DIR, "--prompt", "a b", "--names", "hook_embed", "--out", out]);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect((statSync(out).mode & 0o777).toString(8)).toBe("600");
    expect(existsSync(out)).toBe(true);
  });
});
