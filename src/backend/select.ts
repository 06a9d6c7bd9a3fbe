import { InputError } from "../errors.ts";
import type { Backend } from "./backend.ts";
import { assertBackendChoice, type BackendChoice, type BackendOptions } from "./choice.ts";
import { referenceBackend } from "./reference/reference-backend.ts";
import { wasmRelaxedSimdSupported } from "./wasm/simd-support.ts";
import { createWasmBackend } from "./wasm/wasm-backend.ts";

const sharedWasm = new Map<boolean, Backend | null>();

/**
 * "auto" picks WebAssembly SIMD when the engine has it and the plain TypeScript reference
 * otherwise; "wasm" insists on SIMD; "reference" forces the fallback. This runtime-neutral selector
 * never starts threads: "wasm-threads" gets the single-threaded SIMD backend here (the worker-pool
 * backend comes from selectNodeBackend in node-select.ts). One backend per kind is shared
 * process-wide.
 */
export function selectBackend(choice: BackendChoice = "auto", options: BackendOptions = {}): Backend {
  assertBackendChoice(choice, "selectBackend");
  if (choice === "reference") return referenceBackend;
  // Keyed by what the engine gives now: Node 20 validates relaxed SIMD only once its flag is set.
  const relaxedSimd = options.relaxedSimd !== false && wasmRelaxedSimdSupported();
  if (!sharedWasm.has(relaxedSimd)) sharedWasm.set(relaxedSimd, createWasmBackend({ relaxedSimd }));
  const wasm = sharedWasm.get(relaxedSimd);
  if (wasm) return wasm;
  if (choice === "wasm" || choice === "wasm-threads") throw new InputError("WebAssembly SIMD is not available in this JavaScript engine", "no_wasm_simd");
  return referenceBackend;
}
