/** This package's name and version, read from its package.json (two levels above src/io and dist/io). */
import { readFile } from "node:fs/promises";

export interface PackageInfo {
  readonly name: string;
  readonly version: string;
}

export async function packageInfo(): Promise<PackageInfo> {
  const manifest = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as Partial<PackageInfo>;
  return { name: String(manifest.name), version: String(manifest.version) };
}
