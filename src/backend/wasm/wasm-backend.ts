import { InputError } from "../../errors.ts";
import type { Backend, PreparedWeight } from "../backend.ts";
import type { BackendOptions } from "../choice.ts";
import { gatherPackedColumns } from "./gemm/packed-gather.ts";
import type { PackedMatrix } from "./gemm/packing.ts";
import { WasmGemm } from "./gemm/wasm-gemm.ts";
import { sharedMemoryWorkspace } from "./memory-workspace.ts";
import { createSharedMemory } from "./wasm-api.ts";
import { createWasmForwardKernels } from "./wasm-forward-kernels.ts";

/** A weight prepared by a WebAssembly backend (single-threaded or pool): its packed copy. */
export interface WasmPreparedWeight extends PreparedWeight {
  readonly packed: PackedMatrix;
}

/**
 * Matmuls on the run-time generated WebAssembly SIMD kernel; null where SIMD is unavailable. Its
 * memory is shared where the engine allows (views then survive growth), which gives the backend a
 * workspace for in-place activations.
 */
export function createWasmBackend(options: BackendOptions = {}): Backend | null {
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
    gatherColumns: gatherPreparedColumns,
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

/** Backend.gatherColumns of the WebAssembly backends: columns read from the packed panels. */
export function gatherPreparedColumns(w: PreparedWeight, cols: ArrayLike<number>, out: Float32Array): void {
  const packed = packedMatrixOf(w);
  if (packed === null) throw new InputError("gatherColumns: weight was not prepared by a WebAssembly backend", "foreign_weight");
  gatherPackedColumns(packed, cols, out);
}
