/**
 * Child processes of bench/run-all.ts: each runs from the repository root with its own environment,
 * and reports machine-readable lines "RESULT {json}".
 */
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

export function run(command: string, args: string[], options: SpawnSyncOptions = {}): Run {
  const t0 = performance.now();
  const result = spawnSync(command, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20, ...options });
  const seconds = (performance.now() - t0) / 1000;
  if (result.error) return { status: null, stdout: "", stderr: String(result.error.message), seconds };
  return { status: result.status, stdout: String(result.stdout ?? ""), stderr: String(result.stderr ?? ""), seconds };
}

export function results(stdout: string): Record<string, unknown>[] {
  return stdout.split("\n").filter((l) => l.startsWith("RESULT ")).map((l) => JSON.parse(l.slice(7)) as Record<string, unknown>);
}

/** The last line of a failed child's stderr, for a one-line report. */
export const lastLine = (r: Run): string => r.stderr.trim().split("\n").at(-1) ?? `exit ${r.status}`;
