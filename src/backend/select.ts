import { InputError } from "../errors.ts";
import { type MatmulBackend, type PreparedWeight, referenceBackend } from "../tensor/matmul.ts";
import { createWasmForwardKernels } from "./wasm/wasm-forward-kernels.ts";
import { sharedMemoryWorkspace } from "./wasm/memory-workspace.ts";
import { createSharedMemory } from "./wasm/wasm-api.ts";
import { type PackedMatrix, WasmGemm, wasmRelaxedSimdSupported } from "./wasm/gemm/wasm-gemm.ts";

/**
 * Kernel choice: "auto", "wasm" (single-threaded SIMD), "wasm-threads" (SIMD on a worker pool; only
 * the Node/Deno entry points such as loadGpt2FromDir can create one, see selectNodeBackend in
 * gpt2/node-load.ts) or "reference" (plain TypeScript).
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

interface WasmPreparedWeight extends PreparedWeight {
  readonly packed: PackedMatrix;
}

/**
 * Matmuls on the run-time generated WebAssembly SIMD kernel; null where SIMD is unavailable. Its
 * memory is shared where the engine allows (views then survive growth), which gives the backend a
 * workspace for in-place activations.
 */
export function createWasmBackend(options: BackendOptions = {}): MatmulBackend | null {
  const shared = createSharedMemory(16, 65536);
  const gemm = WasmGemm.create({ memory: shared ?? undefined, relaxedSimd: options.relaxedSimd });
  if (!gemm) return null;
  const allocate = (floats: number) => {
    const buffer = gemm.alloc(floats);
    return { view: buffer.view(), buffer };
  };
  const workspace = shared === null ? undefined : sharedMemoryWorkspace(shared, allocate, (buffer) => gemm.free(buffer));
  return {
    name: gemm.relaxedSimd ? "wasm-simd-fma" : "wasm-simd",
    ownsPreparedCopy: true,
    kernels: createWasmForwardKernels(workspace) ?? undefined,
    workspace,
    prepare(w, inDim, outDim): WasmPreparedWeight {
      return { inDim, outDim, rowMajor: w, transposed: null, packed: gemm.pack(w, inDim, outDim) };
    },
    prepareTransposed(wt, outDim, inDim): WasmPreparedWeight {
      return { inDim, outDim, rowMajor: null, transposed: wt, packed: gemm.packTransposed(wt, outDim, inDim) };
    },
    matmul(a, m, w, out, bias, spare) {
      const packed = (w as Partial<WasmPreparedWeight>).packed;
      if (!packed) throw new InputError("wasm backend: weight was prepared by another backend", "foreign_weight");
      gemm.matmul(a, m, packed, out, bias ?? undefined, false, spare);
    },
    release(w) {
      const packed = (w as Partial<WasmPreparedWeight>).packed;
      if (!packed) throw new InputError("wasm backend: weight was prepared by another backend", "foreign_weight");
      gemm.free(packed.buffer);
    },
  };
}

/**
 * The packed matrix behind a weight prepared by a WebAssembly backend (single-threaded or pool):
 * laid out as WasmGemm.pack makes it. Null for weights of other backends.
 */
export function packedMatrixOf(w: PreparedWeight): PackedMatrix | null {
  const packed = (w as Partial<WasmPreparedWeight>).packed;
  if (packed === undefined || packed === null || typeof packed !== "object") return null;
  const { k, n, panelWidth, buffer } = packed;
  if (k !== w.inDim || n !== w.outDim || !Number.isInteger(panelWidth) || typeof buffer?.view !== "function") return null;
  return packed;
}

/** Kernel options beside the backend choice. */
export interface BackendOptions {
  /**
   * Fused multiply-adds (relaxed SIMD) in the GEMM where the engine has them (default true); false
   * keeps the plain SIMD kernel, whose results are the same on every CPU. See WasmGemmOptions.
   */
  readonly relaxedSimd?: boolean;
}

const sharedWasm = new Map<boolean, MatmulBackend | null>();

/**
 * "auto" picks WebAssembly SIMD when the engine has it and the plain TypeScript reference
 * otherwise; "wasm" insists on SIMD; "reference" forces the fallback. This runtime-neutral selector
 * never starts threads: "wasm-threads" gets the single-threaded SIMD backend here (the worker-pool
 * backend comes from selectNodeBackend in gpt2/node-load.ts). One backend per kind is shared
 * process-wide.
 */
export function selectBackend(choice: BackendChoice = "auto", options: BackendOptions = {}): MatmulBackend {
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
