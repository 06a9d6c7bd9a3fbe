/** The README states each command's synopsis exactly as the CLI's own usage text gives it. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ATTENTION_USAGE } from "../../src/cli/commands/attention.ts";
import { BENCH_USAGE } from "../../src/cli/commands/bench.ts";
import { CACHE_USAGE } from "../../src/cli/commands/cache.ts";
import { FETCH_USAGE } from "../../src/cli/commands/fetch.ts";
import { GREATER_THAN_USAGE } from "../../src/cli/commands/greater-than.ts";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README command line", () => {
  it.each([
    ["greater-than", GREATER_THAN_USAGE],
    ["cache", CACHE_USAGE],
    ["attention", ATTENTION_USAGE],
    ["fetch", FETCH_USAGE],
    ["bench", BENCH_USAGE],
  ])("gives %s's synopsis as its usage text does, and no other form of it", (command, usage) => {
    const synopsis = usage.split("\n")[0]!;
    expect(README).toContain(`\`${synopsis}\``);
    const forms = README.match(new RegExp(`\`gpt2-lens ${command} [^\`]*\``, "g")) ?? [];
    for (const form of forms) {
      // Any other mention is a concrete invocation: only options the synopsis has.
      for (const option of form.match(/--[a-z-]+/g) ?? []) expect(synopsis, `${form} uses ${option}`).toContain(option);
      if (form !== `\`${synopsis}\``) expect(form.includes("[") || form.includes("…"), `${form} looks like a stale synopsis`).toBe(false);
    }
  });
});
