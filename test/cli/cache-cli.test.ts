/**
 * `gpt2-lens cache` as shipped: the compiled dist/cli/main.js run by Node in a child process.
 * dist is rebuilt (tsc -p tsconfig.json) in beforeAll when any src file is newer than it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, CLI, ROOT, runCli, runCliSync } from "../helpers/cli.ts";
import { hookNames } from "../../src/gpt2/hook-names.ts";
import { parseSafetensors, type SafetensorsFile } from "../../src/io/safetensors.ts";
import { expectClose } from "../helpers/compare.ts";
import { TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";

const TOLERANCE = 1e-4;

// ---- running the CLI ----

function cli(...args: string[]): CliRun {
  return runCliSync(args);
}

const golden = tinyGolden();
const cleanPrompts = JSON.parse(golden.metadata.clean!) as string[];
const HOOK_NAMES = new Set<string>(hookNames({ nLayers: 2 }));

let work: string;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "gpt2-lens-cache-cli-"));
}, 240_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

let dirs = 0;
function freshDir(): string {
  const dir = join(work, `out-${dirs++}`);
  mkdirSync(dir);
  return dir;
}

function readOutput(path: string): SafetensorsFile {
  return parseSafetensors(new Uint8Array(readFileSync(path)));
}

function expectTokensAreGolden(file: SafetensorsFile): void {
  expect(file.info("tokens").dtype).toBe("I32");
  expect(file.info("tokens").shape).toEqual(golden.info("tokens").shape);
  expect(Array.from(file.getInt32("tokens"))).toEqual(Array.from(golden.getInt32("tokens")));
}

describe("gpt2-lens cache", () => {
  it("writes every activation, the tokens and the logits of the golden prompts, matching HF", () => {
    const out = join(freshDir(), "c.safetensors");
    const run = cli("cache", "--model", TINY_DIR, "--prompt", cleanPrompts[0]!, "--prompt", cleanPrompts[1]!, "--out", out);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^wrote \d+ tensors for 2 prompt\(s\) of 13 tokens to .*c\.safetensors\n$/);

    const file = readOutput(out);
    expect(new Set(file.names)).toEqual(new Set([...HOOK_NAMES, "tokens"]));
    expectTokensAreGolden(file);
    const compared = golden.names.filter((name) => HOOK_NAMES.has(name));
    expect(compared).toContain("logits");
    expect(compared).toContain("blocks.1.attn.hook_result");
    expect(compared.length).toBeGreaterThan(30);
    for (const name of compared) {
      expect(file.info(name).dtype, name).toBe("F32");
      expect(file.info(name).shape, name).toEqual(golden.info(name).shape);
      expectClose(file.getFloat32(name), golden.getFloat32(name), TOLERANCE, name);
    }
    for (const name of file.names) expect(file.info(name).dtype, name).toBe(name === "tokens" ? "I32" : "F32");
    expect(JSON.parse(file.metadata.prompts!)).toEqual(cleanPrompts);
  });

  it("writes a header Python's safetensors reads: length-prefixed, space-padded JSON tiling the data area", () => {
    const out = join(freshDir(), "h.safetensors");
    expect(cli("cache", "--model", TINY_DIR, "--prompt", cleanPrompts[0]!, "--out", out).status).toBe(0);
    const bytes = readFileSync(out);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    const text = bytes.subarray(8, 8 + headerLength).toString("utf8");
    expect(text.startsWith("{")).toBe(true);
    const header = JSON.parse(text) as Record<string, unknown>;
    const metadata = header.__metadata__ as Record<string, unknown>;
    expect(Object.values(metadata).every((value) => typeof value === "string")).toBe(true);
    const entries = Object.entries(header)
      .filter(([name]) => name !== "__metadata__")
      .map(([name, entry]) => ({ name, ...(entry as { dtype: string; shape: number[]; data_offsets: [number, number] }) }))
      .sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
    let end = 0;
    for (const entry of entries) {
      expect(Object.keys(entry).sort()).toEqual(["data_offsets", "dtype", "name", "shape"]);
      expect(["F32", "I32"]).toContain(entry.dtype);
      expect(entry.data_offsets[0], entry.name).toBe(end);
      end = entry.data_offsets[1];
      expect(end - entry.data_offsets[0]).toBe(4 * entry.shape.reduce((a, b) => a * b, 1));
    }
    expect(8 + headerLength + end).toBe(bytes.length);
    expect(readOutput(out).names.length).toBe(entries.length);
  });

  it("--names writes exactly those activations plus tokens and logits", () => {
    const out = join(freshDir(), "subset.safetensors");
    const names = ["blocks.0.attn.hook_pattern", "hook_embed", "blocks.1.attn.hook_result", "ln_final.hook_scale"];
    const run = cli(
      "cache", "--model", TINY_DIR, "--prompt", cleanPrompts[0]!, "--prompt", cleanPrompts[1]!,
      "--names", names.join(","), "--out", out,
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const file = readOutput(out);
    expect([...file.names].sort()).toEqual([...names, "tokens", "logits"].sort());
    expectTokensAreGolden(file);
    for (const name of [...names, "logits"]) {
      expectClose(file.getFloat32(name), golden.getFloat32(name), TOLERANCE, name);
    }
  });

  it("replaces an existing output file and leaves no temp file behind", () => {
    const dir = freshDir();
    const out = join(dir, "again.safetensors");
    expect(cli("cache", "--model", TINY_DIR, "--prompt", "a b", "--names", "hook_embed", "--out", out).status).toBe(0);
    expect(cli("cache", "--model", TINY_DIR, "--prompt", "a b c", "--names", "hook_pos_embed", "--out", out).status).toBe(0);
    expect(readdirSync(dir)).toEqual(["again.safetensors"]);
    expect([...readOutput(out).names].sort()).toEqual(["hook_pos_embed", "logits", "tokens"]);
  });
});

describe("gpt2-lens cache errors: non-zero exit, one gpt2-lens: line, no stack, no file", () => {
  const cases: [string, (out: string) => string[], RegExp][] = [
    ["ragged prompts", (out) => ["cache", "--model", TINY_DIR, "--prompt", "a", "--prompt", "a b c", "--out", out], /different token lengths/],
    [
      "an unknown hook name",
      (out) => ["cache", "--model", TINY_DIR, "--prompt", "a b", "--names", "hook_embed,blocks.0.attn.hook_patern", "--out", out],
      /unknown hook name "blocks\.0\.attn\.hook_patern".*"blocks\.0\.attn\.hook_pattern"/,
    ],
    ["a layer the model lacks", (out) => ["cache", "--model", TINY_DIR, "--prompt", "a", "--names", "blocks.2.hook_resid_pre", "--out", out], /blocks\.2\.hook_resid_pre/],
    ["--names listing no name", (out) => ["cache", "--model", TINY_DIR, "--prompt", "a", "--names", ",,,", "--out", out], /--names ",,," names no hook point/],
    ["an empty --names", (out) => ["cache", "--model", TINY_DIR, "--prompt", "a", "--names=", "--out", out], /--names "" names no hook point/],
    ["a missing --out", () => ["cache", "--model", TINY_DIR, "--prompt", "a b"], /--out/],
    ["no --prompt", (out) => ["cache", "--model", TINY_DIR, "--out", out], /--prompt/],
    ["an empty prompt", (out) => ["cache", "--model", TINY_DIR, "--prompt", "", "--out", out], /empty/],
    ["a nonexistent model directory", (out) => ["cache", "--model", join(work, "no-such-model"), "--prompt", "a", "--out", out], /no-such-model/],
    ["an unknown flag", (out) => ["cache", "--model", TINY_DIR, "--prompt", "a", "--bogus", "--out", out], /--bogus/],
    ["an unknown command", (out) => ["cachee", "--out", out], /unknown command "cachee"/],
    ["an output directory that does not exist", (out) => ["cache", "--model", TINY_DIR, "--prompt", "a", "--out", join(out, "..", "missing", "x.safetensors")], /does not exist/],
  ];

  it.each(cases)("%s", (_, args, culprit) => {
    const dir = freshDir();
    const run = cli(...args(join(dir, "out.safetensors")));
    expect(run.status).not.toBe(0);
    expect(run.status).not.toBeNull();
    expect(run.stdout).toBe("");
    const lines = run.stderr.split("\n").filter((line) => line !== "");
    expect(lines[0], run.stderr).toMatch(/^gpt2-lens: /);
    expect(lines[0]).toMatch(culprit);
    expect(lines.filter((line) => line.startsWith("gpt2-lens:"))).toHaveLength(1);
    // A usage error may add the one fixed hint line; nothing else.
    expect(lines, run.stderr).toHaveLength(1);
    expect(run.stderr).not.toContain("    at ");
    expect(run.stderr).not.toMatch(/internal error/);
    expect(readdirSync(dir), "no output file and no *.tmp left behind").toEqual([]);
  });
});
