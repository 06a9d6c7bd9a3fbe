/**
 * The greater-than report is replaced as a whole: written into a temporary directory beside --out
 * and renamed into place at the end. Interrupted while writing (SIGINT or SIGTERM, with a test-only
 * pause after each file so the signal lands midway), the previous report stays exactly as it was
 * and no temporary is left; a completed run leaves exactly its own files, none of the previous run's.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, ROOT, runCliSync } from "../helpers/cli.ts";

const work = mkdtempSync(join(tmpdir(), "gpt2-lens-gt-interrupt-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const OLD = { "report.json": "{\"old\": true}\n", "index.html": "<!DOCTYPE html>old", "only-in-old-run.svg": "<svg>old</svg>" };

function oldReport(parent: string): string {
  const out = join(parent, "report");
  mkdirSync(out);
  for (const [name, text] of Object.entries(OLD)) writeFileSync(join(out, name), text);
  return out;
}

function contents(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((name) => [name, readFileSync(join(dir, name), "utf8")]));
}

function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (condition()) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error("timed out"));
      else setTimeout(poll, 20);
    };
    poll();
  });
}

let cases = 0;

describe("greater-than interrupted while writing its report", () => {
  it.each(["SIGINT", "SIGTERM"] as const)("%s: the old report stays intact, no temporaries, the conventional exit", async (signal) => {
    const parent = join(work, `case-${cases++}`);
    mkdirSync(parent);
    const out = oldReport(parent);
    const child = spawn(process.execPath, [CLI, "greater-than", "--n", "5", "--out", out], {
      cwd: ROOT,
      env: { ...process.env, GPT2_LENS_TEST_PAUSE_AFTER_FILE_MS: "150" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("close", (status, sig) => resolve({ status, signal: sig })),
    );
    const staging = () => readdirSync(parent).filter((name) => name.startsWith(".report.") && name.endsWith(".tmp"));
    await waitFor(() => staging().some((name) => readdirSync(join(parent, name)).length >= 3), 60_000);
    child.kill(signal);
    const result = await exited;
    expect(result.signal).toBe(signal);
    expect(readdirSync(parent), "no temporary directory left beside the report").toEqual(["report"]);
    expect(contents(out)).toEqual(OLD);
  });

  it("a completed run replaces the old report with exactly its own files", () => {
    const parent = join(work, `case-${cases++}`);
    mkdirSync(parent);
    const out = oldReport(parent);
    const run = runCliSync(["greater-than", "--n", "5", "--out", out]);
    expect(run.status, run.stderr).toBe(0);
    const names = readdirSync(out);
    expect(names).not.toContain("only-in-old-run.svg");
    expect(names).toContain("report.json");
    expect(names).toContain("index.html");
    expect(names.filter((name) => name.endsWith(".svg")).length).toBeGreaterThanOrEqual(8);
    expect(JSON.parse(readFileSync(join(out, "report.json"), "utf8")).dataset.prompts).toHaveLength(5);
    expect(readdirSync(parent)).toEqual(["report"]);
  });

  it("follows a symbolic link given as --out deliberately, and says so", () => {
    const parent = join(work, `case-${cases++}`);
    mkdirSync(parent);
    const real = oldReport(parent);
    const link = join(parent, "latest");
    symlinkSync(real, link);
    const run = runCliSync(["greater-than", "--n", "5", "--out", link]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`--out ${link} is a symbolic link: the report replaces its target, ${real}\n`);
    expect(readdirSync(real)).toContain("report.json");
    expect(readdirSync(real)).not.toContain("only-in-old-run.svg");
    expect(readdirSync(parent).sort()).toEqual(["latest", "report"]);
  });
});
