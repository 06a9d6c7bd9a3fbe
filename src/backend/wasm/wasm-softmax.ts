/**
 * Row-wise softmax of float32 data on the WebAssembly SIMD128 kernel of softmax-kernel.ts (module
 * bytes generated at run time; no Node built-ins). Semantics of src/tensor/softmax.ts: −∞ entries
 * (causal masks) get exactly 0; a row that is entirely −∞ is an error, reported by returning
 * false (the caller throws). NaN or +∞ in a row gives a NaN row.
 *
 * `createWasmSoftmaxRows()` returns `(x, width, out) => boolean` (or null without wasm SIMD).
 * `x.length` must be a multiple of `width`; `out` may be `x` itself or overlap it. When it returns
 * false, the offending rows of `out` are unspecified (the other rows are computed).
 *
 * The function owns one `WebAssembly.Memory`; rows are copied in and out a chunk at a time
 * (≈ 2^18 floats = 1 MiB per chunk, at least one row).
 */
import { InputError } from "../../errors.ts";
import { generateSoftmaxModule, type SoftmaxExports } from "./kernels/softmax-kernel.ts";
import { wasmSimdSupported } from "./simd-support.ts";
import type { WasmMemory } from "./wasm-api.ts";
import { isSharedBuffer, overlapsPartially, webAssembly } from "./wasm-api.ts";

/** Generates and instantiates the softmax kernel against `memory`; null without wasm SIMD. */
function instantiateSoftmaxKernel(memory: WasmMemory): SoftmaxExports | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const bytes = generateSoftmaxModule({ sharedMemory: isSharedBuffer(memory.buffer) });
  const instance = new wa.Instance(new wa.Module(bytes), { env: { memory } });
  return instance.exports as unknown as SoftmaxExports;
}

export interface WasmSoftmaxOptions {
  /** Floats per kernel call (rounded down to whole rows, ≥ 1 row; default 2^18). */
  chunkFloats?: number;
}

export type WasmSoftmaxRows = (x: Float32Array, width: number, out: Float32Array) => boolean;

const PAGE_BYTES = 65536;
const BASE = 64;

export function createWasmSoftmaxRows(options: WasmSoftmaxOptions = {}): WasmSoftmaxRows | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const chunkFloats = Math.max(1, Math.floor(options.chunkFloats ?? 1 << 18));
  let memory: WasmMemory | undefined;
  let kernel: SoftmaxExports | null = null;
  let heap: Float32Array | undefined;

  const ensure = (floats: number): Float32Array => {
    const bytes = BASE + floats * 4;
    if (memory === undefined) {
      memory = new wa.Memory({ initial: Math.ceil(bytes / PAGE_BYTES) });
      kernel = instantiateSoftmaxKernel(memory);
      if (kernel === null) throw new Error("wasm softmax: kernel instantiation failed");
    }
    const have = memory.buffer.byteLength;
    if (bytes > have) memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    if (heap === undefined || heap.buffer !== memory.buffer) heap = new Float32Array(memory.buffer);
    return heap;
  };

  return (x: Float32Array, width: number, out: Float32Array): boolean => {
    if (!Number.isInteger(width) || width < 0) throw new InputError(`softmaxRows: width=${width} must be a non-negative integer`, "bad_shape");
    const n = x.length;
    if (out.length !== n) throw new InputError(`softmaxRows: output length ${out.length} differs from input length ${n}`, "bad_shape");
    if (n === 0) return true;
    if (width === 0 || n % width !== 0) throw new InputError(`softmaxRows: ${n} values are not rows of width ${width}`, "bad_shape");
    let src = x;
    if (overlapsPartially(x, out)) src = x.slice();
    const rows = n / width;
    const chunkRows = Math.max(1, Math.min(rows, Math.floor(chunkFloats / width)));
    const h = ensure(chunkRows * width);
    const k = kernel!;
    const base = BASE >> 2;
    let ok = true;
    for (let r0 = 0; r0 < rows; r0 += chunkRows) {
      const m = Math.min(chunkRows, rows - r0) * width;
      h.set(src.subarray(r0 * width, r0 * width + m), base);
      if (k.softmaxRows(BASE, BASE, m / width, width) === 0) ok = false;
      out.set(h.subarray(base, base + m), r0 * width);
    }
    return ok;
  };
}
