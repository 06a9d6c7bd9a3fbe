/**
 * Peak RSS of loading GPT-2 small (random weights, the file bench/random-gpt2.ts writes) in a fresh
 * `node` process on the compiled dist/, with GPT2_LENS_BACKEND=wasm and =auto; then the same after
 * one forward pass (default 8×128, full logits). Prints each peak as bytes and as a ratio to the
 * float32 weight bytes (the size of the model.safetensors data area).
 *
 *   npx tsc -p tsconfig.json && npx deno run -A bench/load-memory.ts
 *   options: --dist DIR (default ./dist)   --backends wasm,auto   --shape 8x128
 */
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { ensureRandomGpt2 } from "./random-gpt2.ts";

function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
}

const dist = resolve(option("dist") ?? "dist");
const backends = (option("backends") ?? "wasm,auto").split(",");
const [batch, seq] = (option("shape") ?? "8x128").split(/[x×]/).map(Number) as [number, number];
const { dir } = await ensureRandomGpt2();
const weightBytes = statSync(`${dir}model.safetensors`).size;

/** Child script: load (and maybe run one forward), print maxRSS in bytes as JSON. */
function childScript(forward: boolean): string {
  const url = (path: string) => JSON.stringify(pathToFileURL(`${dist}/${path}`).href);
  return `
import { loadGpt2FromDir } from ${url("gpt2/node-load.js")};
import { HookedGpt2 } from ${url("hooks/hooked-gpt2.js")};
const t0 = performance.now();
const model = await loadGpt2FromDir(${JSON.stringify(dir)});
const loadMs = performance.now() - t0;
const afterLoad = process.resourceUsage().maxRSS * 1024;
let afterForward = null;
if (${forward}) {
  const ids = Array.from({ length: ${batch} }, (_, b) => Array.from({ length: ${seq} }, (_, i) => (b * 7919 + i * 104729) % 50257));
  const logits = new HookedGpt2(model).run(ids).logits;
  if (logits.size !== ${batch} * ${seq} * 50257) throw new Error("bad logits");
  afterForward = process.resourceUsage().maxRSS * 1024;
}
console.log(JSON.stringify({ backend: model.backend.name, loadMs, afterLoad, afterForward }));
`;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
console.log(`weights ${dir}model.safetensors: ${mb(weightBytes)}; dist ${dist}`);
for (const backend of backends) {
  for (const forward of [false, true]) {
    const out = execFileSync("node", ["--input-type=module", "-e", childScript(forward)], {
      env: { ...process.env, GPT2_LENS_BACKEND: backend },
      encoding: "utf8",
    });
    const r = JSON.parse(out.trim().split("\n").pop()!) as { backend: string; loadMs: number; afterLoad: number; afterForward: number | null };
    const peak = forward ? r.afterForward! : r.afterLoad;
    const what = forward ? `load + forward ${batch}×${seq}` : "load";
    console.log(
      `GPT2_LENS_BACKEND=${backend} (${r.backend}) ${what}: peak RSS ${mb(peak)} = ${(peak / weightBytes).toFixed(2)}× the weights (load ${r.loadMs.toFixed(0)} ms)`,
    );
  }
}
