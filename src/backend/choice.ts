import { InputError } from "../errors.ts";

/**
 * Kernel choice: "auto", "wasm" (single-threaded SIMD), "wasm-threads" (SIMD on a worker pool; only
 * the Node/Deno selector selectNodeBackend (node-select.ts) can create one) or "reference" (plain
 * TypeScript).
 */
export type BackendChoice = "auto" | "wasm" | "wasm-threads" | "reference";

export const BACKEND_CHOICES: readonly BackendChoice[] = Object.freeze(["auto", "wasm", "wasm-threads", "reference"]);

const choiceList = BACKEND_CHOICES.map((c) => `"${c}"`).join(", ");

function isBackendChoice(value: unknown): value is BackendChoice {
  return typeof value === "string" && (BACKEND_CHOICES as readonly string[]).includes(value);
}

/** Throws `bad_backend` unless `choice` is one of BACKEND_CHOICES; `where` names the caller. */
export function assertBackendChoice(choice: unknown, where: string): asserts choice is BackendChoice {
  if (isBackendChoice(choice)) return;
  const shown = typeof choice === "string" ? `"${choice}"` : String(choice);
  throw new InputError(`${where}: unknown backend choice ${shown} (valid: ${choiceList})`, "bad_backend");
}

/** Kernel options beside the backend choice. */
export interface BackendOptions {
  /**
   * Fused multiply-adds (relaxed SIMD) in the GEMM where the engine has them (default true); false
   * keeps the plain SIMD kernel, whose results are the same on every CPU. See WasmGemmOptions.
   */
  readonly relaxedSimd?: boolean;
}

/** GPT2_LENS_BACKEND: unset or "" → "auto"; else one of BACKEND_CHOICES. */
export function parseBackendChoice(value: string | undefined): BackendChoice {
  if (value === undefined || value === "") return "auto";
  if (isBackendChoice(value)) return value;
  throw new InputError(`GPT2_LENS_BACKEND="${value}" is not one of ${BACKEND_CHOICES.join(", ")}`, "bad_backend");
}

/**
 * GPT2_LENS_FMA: unset, "", "1", "on" or "true" → fused multiply-adds where the engine has them;
 * "0", "off" or "false" → the plain SIMD kernel.
 */
export function parseFmaChoice(value: string | undefined): BackendOptions {
  if (value === undefined || value === "" || value === "1" || value === "on" || value === "true") return { relaxedSimd: true };
  if (value === "0" || value === "off" || value === "false") return { relaxedSimd: false };
  throw new InputError(`GPT2_LENS_FMA="${value}" is not one of 1, on, true, 0, off, false`, "bad_fma_choice");
}
