/**
 * Shared by test/global-setup.ts and bench/run-all.ts, which rebuild dist/ when src/ is newer
 * (kept here so that neither tests nor benchmarks import the other).
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** The newest modification time (ms) of the .ts files below `dir`, 0 when there are none. */
export function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}
