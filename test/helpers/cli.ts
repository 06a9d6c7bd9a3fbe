import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect } from "vitest";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The compiled CLI (built by test/global-setup.ts). */
export const CLI = join(ROOT, "dist/cli/main.js");

export interface CliRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function cliEnv(extraEnv: Readonly<Record<string, string | undefined>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  delete env.GPT2_LENS_DEBUG;
  for (const [key, value] of Object.entries(extraEnv)) if (value === undefined) delete env[key];
  return env;
}

/** Runs `node dist/cli/main.js …args` to completion (blocking). */
export function runCliSync(args: readonly string[], extraEnv: Readonly<Record<string, string | undefined>> = {}, timeoutMs = 60_000): CliRun {
  const started = performance.now();
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env: cliEnv(extraEnv), encoding: "utf8", timeout: timeoutMs });
  if (result.error) throw result.error;
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr, seconds: (performance.now() - started) / 1000 };
}

/** Runs the CLI without blocking the test process (e.g. while it serves HTTP to the CLI). */
export function runCli(args: readonly string[], extraEnv: Readonly<Record<string, string | undefined>> = {}, timeoutMs = 60_000): Promise<CliRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: cliEnv(extraEnv), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** A scratch directory for one test file, made before its tests and removed after; `fresh()` names a new path in it. */
export function scratchDirectory(prefix: string): { fresh: () => string } {
  let work = "";
  let count = 0;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });
  return { fresh: () => join(work, `case-${count++}`) };
}

/** `args` fail as a usage error: exit 2, one `gpt2-lens: <command>: …` line matching `culprit`, and `out` not written. */
export async function expectUsageError(args: readonly string[], command: string, culprit: RegExp, out: string): Promise<void> {
  const run = await runCli(args);
  expect(run.status, run.stderr).toBe(2);
  const lines = run.stderr.split("\n").filter((line) => line !== "");
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^gpt2-lens: ${command}: `));
  expect(lines[0]).toMatch(culprit);
  expect(existsSync(out), "nothing written").toBe(false);
}
