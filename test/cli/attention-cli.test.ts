/** `gpt2-lens attention` as shipped: the compiled CLI writes the viewer page; argument and output errors. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ATTENTION_USAGE } from "../../src/cli/commands/attention.ts";
import { runCliSync } from "../helpers/cli.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

const PROMPT = `<|endoftext|> He said "don't" & left`;

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "gpt2-lens-attention-cli-"));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function dataOf(page: string): { tokens: string[]; layers: number[]; nHeads: number } {
  const json = /<script type="application\/json" class="gl-data">([^]*?)<\/script>/.exec(page)![1]!;
  return (JSON.parse(json) as { data: { tokens: string[]; layers: number[]; nHeads: number } }).data;
}

describe("gpt2-lens attention", () => {
  it("writes a standalone page with every layer of the bundled model by default", () => {
    const out = join(work, "all.html");
    const run = runCliSync(["attention", "--prompt", PROMPT, "--out", out]);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`wrote the attention viewer (9 tokens, 6 layer(s) × 4 heads) to ${out}\n`);
    const page = readFileSync(out, "utf8");
    expect(page.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(page).toContain('<meta charset="utf-8">');
    expect(page).not.toMatch(/\b(src|href)=/);
    const data = dataOf(page);
    expect(data.layers).toEqual([0, 1, 2, 3, 4, 5]);
    expect(data.tokens[0]).toBe("<|endoftext|>");
    expect(data.tokens.join("")).toBe(PROMPT);
  });

  it("writes the same page for the same prompt, byte for byte", () => {
    const [first, second] = ["same-1.html", "same-2.html"].map((name) => {
      const out = join(work, name);
      expect(runCliSync(["attention", "--model", TINY_DIR, "--prompt", "x y", "--out", out]).status).toBe(0);
      return readFileSync(out, "utf8");
    });
    expect(second).toBe(first);
  });

  it("shows one layer with --layer, from --model", () => {
    const out = join(work, "one.html");
    const run = runCliSync(["attention", "--model", TINY_DIR, "--prompt", "a b c", "--layer", "1", "--out", out]);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const page = readFileSync(out, "utf8");
    expect(dataOf(page).layers).toEqual([1]);
    expect([...page.matchAll(/data-label="(L\d+H\d+)"/g)].map((m) => m[1])).toEqual(["L1H0", "L1H1", "L1H2", "L1H3"]);
  });

  it.each([
    [["--out", "OUT"], /attention: missing --prompt/],
    [["--prompt", "a"], /attention: missing --out/],
    [["--prompt", "a", "--layer", "one", "--out", "OUT"], /--layer must be a layer index \(0, 1, …\), got "one"/],
    [["--prompt", "a", "--layer", "-1", "--out", "OUT"], /--layer must be a layer index/],
    [["--prompt", "a", "--layer", "6", "--out", "OUT"], /--layer 6 is outside the model's layers 0…5/],
    [["--prompt", "a", "--heads", "2", "--out", "OUT"], /unknown option --heads/],
    [["--prompt", "a", "--out", "OUT", "extra"], /unexpected argument "extra"/],
  ])("refuses %j as a usage error (exit 2)", (args, message) => {
    const out = join(work, "refused.html");
    const run = runCliSync(["attention", ...args.map((arg) => (arg === "OUT" ? out : arg))]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it("checks --out before loading: a directory or a symbolic link is refused, an existing file replaced", () => {
    const dir = join(work, "a-directory.html");
    mkdirSync(dir);
    const directory = runCliSync(["attention", "--prompt", "a", "--out", dir]);
    expect(directory.status).toBe(2);
    expect(directory.stderr).toMatch(/attention: --out: /);

    const target = join(work, "target.html");
    writeFileSync(target, "old");
    const link = join(work, "link.html");
    symlinkSync(target, link);
    const linked = runCliSync(["attention", "--prompt", "a", "--out", link]);
    expect(linked.status).toBe(2);
    expect(readFileSync(target, "utf8")).toBe("old");

    expect(runCliSync(["attention", "--prompt", "a", "--out", target]).status).toBe(0);
    expect(readFileSync(target, "utf8")).toContain("gpt2-lens-attention");
  });

  it("prints its usage with --help", () => {
    const run = runCliSync(["attention", "--help"]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${ATTENTION_USAGE}\n`);
    expect(runCliSync(["--help"]).stdout).toContain(ATTENTION_USAGE.split("\n")[0]);
  });
});
