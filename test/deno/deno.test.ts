/**
 * The library under Deno (node_modules/.bin/deno, from the `deno` npm package): Deno runs the
 * TypeScript sources directly and resolves bare imports (ndarray, gpt-tokenizer, and "gpt2-lens"
 * itself through package.json "exports") from the node_modules npm installed. `--cached-only` makes
 * any attempt to reach the network an error, and `--no-lock` keeps Deno from writing a deno.lock.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSafetensors } from "../../src/io/safetensors.ts";
import { expectClose } from "../helpers/compare.ts";
import { tinyGolden } from "../helpers/fixtures.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DENO = join(ROOT, "node_modules/.bin/deno");
const HAS_PACKAGE_ENTRY = existsSync(join(ROOT, "src/index.ts"));
const TOLERANCE = 1e-4;
const TIMEOUT = 180_000;

function deno(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(DENO, ["run", "-A", "--cached-only", "--no-lock", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: TIMEOUT - 10_000,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1", NO_COLOR: "1" },
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "gpt2-lens-deno-"));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("under Deno", () => {
  it("deno is installed", () => {
    const result = spawnSync(DENO, ["--version"], { encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^deno 2\./);
  });

  it(
    "the CLI from source (src/cli/main.ts) writes the golden logits",
    () => {
      const golden = tinyGolden();
      const prompts = JSON.parse(golden.metadata.clean!) as string[];
      const out = join(work, "c.safetensors");
      const run = deno([
        "src/cli/main.ts", "cache", "--model", "test/fixtures/tiny-gpt2",
        "--prompt", prompts[0]!, "--prompt", prompts[1]!, "--names", "blocks.1.hook_resid_post", "--out", out,
      ]);
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^wrote 3 tensors for 2 prompt\(s\) of 13 tokens/);
      const file = parseSafetensors(new Uint8Array(readFileSync(out)));
      expect(Array.from(file.getInt32("tokens"))).toEqual(Array.from(golden.getInt32("tokens")));
      expect(file.info("logits").shape).toEqual(golden.info("logits").shape);
      expectClose(file.getFloat32("logits"), golden.getFloat32("logits"), TOLERANCE, "logits under Deno");
      expectClose(
        file.getFloat32("blocks.1.hook_resid_post"),
        golden.getFloat32("blocks.1.hook_resid_post"),
        TOLERANCE,
        "blocks.1.hook_resid_post under Deno",
      );
    },
    TIMEOUT,
  );

  it(
    "the CLI's errors are one gpt2-lens: line under Deno too",
    () => {
      const run = deno(["src/cli/main.ts", "cache", "--model", "test/fixtures/tiny-gpt2", "--prompt", "a", "--prompt", "a b", "--out", join(work, "x.safetensors")]);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/^gpt2-lens: error: prompts have different token lengths[^\n]*\n$/);
      expect(existsSync(join(work, "x.safetensors"))).toBe(false);
    },
    TIMEOUT,
  );

  it(
    "the library imported from src runs the golden tokens",
    () => {
      const run = deno(["test/deno/entry-check.ts"]);
      expect(run.status, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as { entry: string; runtime: string; logitsShape: number[]; maxRelativeError: number };
      expect(report).toMatchObject({ entry: "src", runtime: "deno", logitsShape: [2, 13, 50257] });
      expect(report.maxRelativeError).toBeLessThan(TOLERANCE);
    },
    TIMEOUT,
  );

  it.skipIf(!HAS_PACKAGE_ENTRY)(
    'the library imported through the package entry "gpt2-lens" (dist/index.js) runs the golden tokens',
    async () => {
          const run = deno(["test/deno/entry-check.ts", "--package"]);
      expect(run.status, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as { entry: string; runtime: string; maxRelativeError: number };
      expect(report).toMatchObject({ entry: "gpt2-lens", runtime: "deno" });
      expect(report.maxRelativeError).toBeLessThan(TOLERANCE);
    },
    TIMEOUT,
  );
});
