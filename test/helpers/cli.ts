import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

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
