import { execFileSync } from "node:child_process";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { newestSourceMtime } from "../scripts/newest-source-mtime.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The CLI and package-entry tests run the compiled dist/: build it once when src is newer. */
export default function setup(): void {
  const entry = join(ROOT, "dist/index.js");
  if (existsSync(entry) && statSync(entry).mtimeMs >= newestSourceMtime(join(ROOT, "src"))) return;
  // A clean build: files of modules that moved or were deleted must not linger in dist/.
  rmSync(join(ROOT, "dist"), { recursive: true, force: true });
  execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: ROOT, stdio: "inherit" });
}
