/** The attention viewer under Deno: built from the sources, it gives a Jupyter kernel its HTML. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DENO = join(ROOT, "node_modules/.bin/deno");

describe("attention viewer under Deno", () => {
  it("displays as text/html (the viewer) and text/plain through Symbol.for(\"Jupyter.display\")", () => {
    const run = spawnSync(DENO, ["run", "-A", "--cached-only", "--no-lock", "test/deno/attention-display-check.ts"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1", NO_COLOR: "1" },
    });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      runtime: "deno",
      mimeTypes: ["text/html", "text/plain"],
      htmlIsViewer: true,
      plain: "attention viewer: 3 tokens, layers 1, 4 heads",
    });
  }, 150_000);
});
