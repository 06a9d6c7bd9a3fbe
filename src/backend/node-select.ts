import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { InputError } from "../errors.ts";
import type { Backend } from "./backend.ts";
import { assertBackendChoice, type BackendChoice, type BackendOptions, parseBackendChoice, parseFmaChoice } from "./choice.ts";
import { selectBackend } from "./select.ts";
import { wasmRelaxedSimdSupported } from "./wasm/simd-support.ts";
import { createParallelWasmBackend, type ParallelWasmBackend } from "./wasm/threads/node-parallel-backend.ts";

const sharedParallel = new Map<boolean, ParallelWasmBackend | null>();

/**
 * Node 20's V8 (11.3) has relaxed SIMD behind a flag; V8 ships it from 11.4 (Node 22, Deno). A Wasm
 * feature flag only affects modules validated and compiled after it is set, and worker threads
 * share the process's flags, so turning it on before the GEMM kernel is generated is enough.
 */
function enableRelaxedSimd(): void {
  if (wasmRelaxedSimdSupported()) return;
  try {
    setFlagsFromString("--experimental-wasm-relaxed-simd");
  } catch {
    // An engine without the flag keeps the plain SIMD kernel.
  }
}

function cores(): number {
  try {
    return availableParallelism();
  } catch {
    return 1;
  }
}

/**
 * Like selectBackend, for Node and Deno, where worker threads exist: "auto" uses WebAssembly SIMD
 * on a worker pool sized to the cores (one process-wide pool; its workers are unref()ed, so they
 * never keep the process alive; once closed, the next call creates a new one) when there are ≥ 2 cores, else single-threaded SIMD, else the
 * reference; "wasm-threads" insists on the pool, "wasm" is single-threaded SIMD, "reference" plain
 * TypeScript. The GEMM fuses multiply-adds unless `options.relaxedSimd` is false (on Node 20 this
 * turns on V8's --experimental-wasm-relaxed-simd for the process; see WasmGemmOptions.relaxedSimd).
 */
export function selectNodeBackend(choice: BackendChoice = "auto", options: BackendOptions = {}): Backend {
  assertBackendChoice(choice, "selectNodeBackend");
  if (options.relaxedSimd !== false && choice !== "reference") enableRelaxedSimd();
  const relaxedSimd = options.relaxedSimd !== false && wasmRelaxedSimdSupported();
  if (choice === "wasm-threads" || (choice === "auto" && cores() >= 2)) {
    // A pool closed by whoever held it is replaced, so one owner's close() never breaks later loads.
    if (!sharedParallel.has(relaxedSimd) || sharedParallel.get(relaxedSimd)?.closed === true) {
      sharedParallel.set(relaxedSimd, createParallelWasmBackend({ relaxedSimd }));
    }
    const parallel = sharedParallel.get(relaxedSimd);
    if (parallel) return parallel;
    if (choice === "wasm-threads") {
      throw new InputError("WebAssembly SIMD with shared memory is not available in this JavaScript engine", "no_wasm_threads");
    }
  }
  return selectBackend(choice, { relaxedSimd });
}

/** selectNodeBackend as the environment asks: GPT2_LENS_BACKEND (see parseBackendChoice) and GPT2_LENS_FMA (parseFmaChoice). */
export function selectNodeBackendFromEnv(): Backend {
  return selectNodeBackend(parseBackendChoice(process.env.GPT2_LENS_BACKEND), parseFmaChoice(process.env.GPT2_LENS_FMA));
}
