import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root (the directory of gpt2-lens's package.json) above this file, so bench files
 * find the models and caches both when run as TypeScript and when compiled into .bench-cache/node/.
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "gpt2-lens") return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no gpt2-lens package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}
