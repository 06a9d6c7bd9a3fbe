/**
 * Compiles a bench entry point (and the TypeScript it imports) with tsc into .bench-cache/node/ so it
 * can run under Node 20, which cannot run TypeScript itself. The WebAssembly kernels run ~1.7× faster
 * under Node than under Deno (Deno's V8 has no wasm trap handler, so every memory access is
 * bounds-checked), and Node is what `gpt2-lens` runs on.
 */
import { spawnSync } from "node:child_process";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const OUT_DIR = join(ROOT, ".bench-cache/node");

/** Returns the path of the compiled .js of `entry` (a path relative to the repository root). */
export function compileForNode(entry: string): string {
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  const args = [
    tsc, join(ROOT, entry), "--outDir", OUT_DIR, "--rootDir", ROOT, "--module", "nodenext", "--moduleResolution", "nodenext",
    "--target", "es2022", "--allowImportingTsExtensions", "--rewriteRelativeImportExtensions", "--skipLibCheck",
    "--types", "node", "--strict",
  ];
  const r = spawnSync("node", args, { cwd: ROOT, encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Error(`tsc could not compile ${entry} for Node:\n${r.error?.message ?? ""}${r.stdout ?? ""}${r.stderr ?? ""}`);
  }
  return join(OUT_DIR, relative(ROOT, join(ROOT, entry)).replace(/\.ts$/, ".js"));
}
