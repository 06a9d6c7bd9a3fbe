/**
 * Backend selection and fused multiply-adds on a Node without the relaxed-SIMD flag (Node 20; the
 * vitest workers have it, so this runs in a child process of the plain `node`).
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.ts";

function runScript(source: string): string[] {
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", source], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout.trim().split("\n");
}

const INDEX = JSON.stringify(join(ROOT, "dist/index.js"));

describe("fused multiply-add selection", () => {
  it("selectNodeBackend turns relaxed SIMD on; a backend cached before that is not handed out as the FMA one", () => {
    const lines = runScript(`
      const lens = await import(${INDEX});
      const before = lens.selectBackend("wasm").name;
      const single = lens.selectNodeBackend("wasm").name;
      const pool = lens.selectNodeBackend("wasm-threads").name;
      const plainPool = lens.selectNodeBackend("wasm-threads", { relaxedSimd: false }).name;
      const plainSingle = lens.selectBackend("wasm", { relaxedSimd: false }).name;
      console.log([before, single, pool, plainPool, plainSingle].join("\\n"));
    `);
    const flagless = !process.versions.v8.startsWith("11.3");
    const threads = availableParallelism();
    expect(lines).toEqual([flagless ? "wasm-simd-fma" : "wasm-simd", "wasm-simd-fma", `wasm-simd-fma×${threads}`, `wasm-simd×${threads}`, "wasm-simd"]);
  });

  it("parses GPT2_LENS_FMA strictly", async () => {
    const { parseFmaChoice } = await import("../../src/backend/choice.ts");
    for (const on of [undefined, "", "1", "on", "true"]) expect(parseFmaChoice(on)).toEqual({ relaxedSimd: true });
    for (const off of ["0", "off", "false"]) expect(parseFmaChoice(off)).toEqual({ relaxedSimd: false });
    for (const bad of ["yes", "2", "OFF", " 0"]) expect(() => parseFmaChoice(bad)).toThrow(/GPT2_LENS_FMA/);
  });
});
