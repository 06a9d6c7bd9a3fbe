/**
 * `gpt2-lens bench` as shipped: the compiled dist/cli/main.js run by Node in a child process, on the
 * tiny fixture model. dist is rebuilt (tsc -p tsconfig.json) in beforeAll when any src file is newer.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { type CliRun, CLI, ROOT, runCli, runCliSync } from "../helpers/cli.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";


// ---- running the CLI ----

function cli(args: string[], extraEnv: Record<string, string | undefined> = {}): CliRun {
  return runCliSync(args, extraEnv);
}

function parseMedian(stdout: string): number {
  const lines = stdout.trimEnd().split("\n");
  const match = /^forward_ms_median=(\d+(?:\.\d+)?)$/.exec(lines.at(-1)!);
  expect(match, `last line of:\n${stdout}`).not.toBeNull();
  return Number(match![1]);
}

const runTimes = (stdout: string): number[] =>
  [...stdout.matchAll(/^run (\d+): (\d+(?:\.\d+)?) ms$/gm)].map((m) => Number(m[2]));

// tiny-gpt2: vocab 50257 × 32 + n_ctx 64 × 32 + 2 × (LNs 128 + c_attn 3168 + c_proj 1056 + c_fc 4224 + mlp c_proj 4128) + ln_f 64.
const TINY_PARAMETERS = 50257 * 32 + 64 * 32 + 2 * (128 + 3168 + 1056 + 4224 + 4128) + 64;

describe("gpt2-lens bench", () => {
  it("times R full forwards after a warm-up and ends with forward_ms_median=<ms>", () => {
    const run = cli(["bench", "--model", TINY_DIR, "--batch", "2", "--seq", "8", "--repeat", "3"]);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const median = parseMedian(run.stdout);
    expect(Number.isFinite(median)).toBe(true);
    expect(median).toBeGreaterThan(0);
    const times = runTimes(run.stdout);
    expect(times).toHaveLength(3);
    const sorted = [...times].sort((a, b) => a - b);
    // Run lines are rounded to 0.1 ms, the median to 0.001 ms.
    expect(Math.abs(median - sorted[1]!)).toBeLessThanOrEqual(0.05 + 1e-9);
    expect(run.stdout).toMatch(/^backend (wasm-simd|reference)\b/m);
    expect(run.stdout).toContain(`parameters ${TINY_PARAMETERS} (${((TINY_PARAMETERS * 4) / 1e6).toFixed(1)} MB as float32)`);
    expect(run.stdout).toMatch(/forward 2×8 \(full logits, all positions\)/);
    expect(run.stdout).toMatch(/^peak_rss_bytes=\d+ /m);
  });

  it("defaults to one batch row of 13 tokens and five runs; seq may equal n_ctx", () => {
    const defaults = cli(["bench", "--model", TINY_DIR]);
    expect(defaults.status, defaults.stderr).toBe(0);
    expect(defaults.stdout).toMatch(/forward 1×13 /);
    expect(runTimes(defaults.stdout)).toHaveLength(5);
    parseMedian(defaults.stdout);
    const full = cli(["bench", "--model", TINY_DIR, "--seq", "64", "--repeat", "1"]);
    expect(full.status, full.stderr).toBe(0);
    expect(runTimes(full.stdout)).toHaveLength(1);
    parseMedian(full.stdout);
  });

  it("fuses multiply-adds by default, even on Node 20 (no flag given), and not with GPT2_LENS_FMA=0", () => {
    // The CLI child is a plain `node` (Node 20: relaxed SIMD behind a flag the loader sets itself).
    for (const [backend, fma, name] of [
      ["wasm-threads", undefined, "wasm-simd-fma×"],
      ["wasm", "1", "wasm-simd-fma;"],
      ["wasm-threads", "0", "wasm-simd×"],
      ["wasm", "off", "wasm-simd;"],
    ] as const) {
      const run = cli(["bench", "--model", TINY_DIR, "--repeat", "1"], { GPT2_LENS_BACKEND: backend, GPT2_LENS_FMA: fma });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toContain(`backend ${name}`);
    }
    const bad = cli(["bench", "--model", TINY_DIR, "--repeat", "1"], { GPT2_LENS_FMA: "fast" });
    // Like a bad GPT2_LENS_BACKEND: the environment, not the command line, is wrong.
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/^gpt2-lens: error: GPT2_LENS_FMA="fast" is not one of 1, on, true, 0, off, false\n$/);
    expect(bad.stderr).not.toMatch(/\bat \S+:\d+/);
  });

  it("a bad GPT2_LENS_BACKEND is named; GPT2_LENS_FMA is checked even where the backend ignores it", () => {
    for (const [env, message] of [
      [{ GPT2_LENS_BACKEND: "threads" }, 'GPT2_LENS_BACKEND="threads" is not one of auto, wasm, wasm-threads, reference'],
      [{ GPT2_LENS_BACKEND: "reference", GPT2_LENS_FMA: "fast" }, 'GPT2_LENS_FMA="fast" is not one of 1, on, true, 0, off, false'],
    ] as const) {
      const run = cli(["bench", "--model", TINY_DIR, "--repeat", "1"], env);
      expect(run.status).toBe(1);
      expect(run.stdout).toBe("");
      expect(run.stderr).toBe(`gpt2-lens: error: ${message}\n`);
    }
  });

  it("takes --seed 0, and seeds up to 2^32 − 1", () => {
    for (const seed of ["0", "4294967295"]) {
      const run = cli(["bench", "--model", TINY_DIR, "--repeat", "1", "--seed", seed], { GPT2_LENS_BACKEND: "reference" });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toContain(`random tokens seed ${seed}:`);
    }
  });

  it("names the backend GPT2_LENS_BACKEND chose", () => {
    const run = cli(["bench", "--model", TINY_DIR, "--repeat", "1"], { GPT2_LENS_BACKEND: "reference" });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^backend reference;/m);
    parseMedian(run.stdout);
  });
});

describe("gpt2-lens bench errors: one gpt2-lens: line, no stack, nothing on stdout", () => {
  const cases: [string, string[], number, RegExp][] = [
    ["--batch 0", ["--batch", "0"], 2, /--batch must be a positive integer, got "0"/],
    ["a negative --seq", ["--seq=-3"], 2, /--seq must be a positive integer/],
    ["a fractional --repeat", ["--repeat", "1.5"], 2, /--repeat must be a positive integer, got "1\.5"/],
    ["a non-numeric --batch", ["--batch", "two"], 2, /--batch must be a positive integer, got "two"/],
    ["--seq beyond n_ctx", ["--seq", "65"], 2, /--seq 65 exceeds the model's n_ctx 64/],
    ["logits beyond 2^32 floats", ["--batch", "2000", "--seq", "64"], 2, /--batch 2000 × --seq 64 needs full logits of 2000×64×50257 = 6432896000 floats .*use a smaller --batch or --seq /],
    ["a negative --seed", ["--seed", "-1"], 2, /--seed must be an integer from 0 to 4294967295, got "-1"/],
    ["a --seed beyond 32 bits", ["--seed", "4294967296"], 2, /--seed must be an integer from 0 to 4294967295, got "4294967296"/],
    ["a negative --batch given separately", ["--batch", "-1"], 2, /--batch must be a positive integer, got "-1"/],
    ["an unknown flag", ["--bogus"], 2, /unknown option --bogus; bench takes --model, --batch, --seq, --repeat, --seed and --help/],
    ["a stray argument", ["extra"], 2, /unexpected argument "extra"/],
    ["a flag without its value", ["--batch"], 2, /--batch needs a value/],
  ];

  it.each(cases)("%s", (_, flags, status, culprit) => {
    const run = cli(["bench", "--model", TINY_DIR, ...flags]);
    expect(run.status, run.stderr).toBe(status);
    expect(run.stdout).toBe("");
    const lines = run.stderr.split("\n").filter((line) => line !== "");
    expect(lines[0], run.stderr).toMatch(/^gpt2-lens: bench: /);
    expect(lines[0]).toMatch(culprit);
    expect(lines, run.stderr).toHaveLength(1);
    expect(run.stderr).not.toContain("    at ");
  });

  it("a shape too large is refused before the weights are read", () => {
    const dir = mkdtempSync(join(tmpdir(), "gpt2-lens-bench-"));
    try {
      copyFileSync(join(TINY_DIR, "config.json"), join(dir, "config.json"));
      const run = cli(["bench", "--model", dir, "--batch", "100000", "--seq", "64"]);
      expect(run.status, run.stderr).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr).toMatch(/^gpt2-lens: bench: --batch 100000 × --seq 64 needs full logits of .* \(see "gpt2-lens --help"\)\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a missing model directory is a one-line error with exit 1", () => {
    const run = cli(["bench", "--model", join(ROOT, "no-such-model"), "--repeat", "1"]);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^gpt2-lens: error: .*no-such-model/);
    expect(run.stderr).not.toContain("    at ");
  });
});
