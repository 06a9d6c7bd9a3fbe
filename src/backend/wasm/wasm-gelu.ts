/**
 * GPT-2's `gelu_new` on float32 arrays with the WebAssembly SIMD128 kernel of gelu-kernel.ts
 * (module bytes generated at run time; no Node built-ins, runs in Node ≥ 20 and Deno).
 *
 * `createWasmGelu()` returns `(x, out) => void` (or null without wasm SIMD): out[i] = gelu_new(x[i])
 * within ~2e-7 relative (+ 1e-30 absolute) of the float64 function, for any length (including 0
 * and non-multiples of 4). `out` may be `x` itself (in place) or overlap it. +∞ → +∞, −∞ → −0,
 * NaN → NaN.
 *
 * The function owns one `WebAssembly.Memory` (grown on demand, never shrunk). The input is
 * copied in and the result out a chunk at a time (default 2^18 floats = 1 MiB), so the memory
 * stays small and the kernel runs from cache.
 */
import { InputError } from "../../errors.ts";
import { generateGeluModule, type GeluExports, type GeluKernelOptions } from "./kernels/gelu-kernel.ts";
import { wasmSimdSupported } from "./simd-support.ts";
import type { WasmMemory } from "./wasm-api.ts";
import { isSharedBuffer, overlapsPartially, webAssembly } from "./wasm-api.ts";

/**
 * Generates and instantiates the gelu kernel against `memory`; null when WebAssembly SIMD is
 * unavailable. For callers that manage pointers themselves; see gelu-kernel.ts for the contract.
 */
function instantiateGeluKernel(memory: WasmMemory, options: Omit<GeluKernelOptions, "sharedMemory"> = {}): GeluExports | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const bytes = generateGeluModule({ ...options, sharedMemory: isSharedBuffer(memory.buffer) });
  const instance = new wa.Instance(new wa.Module(bytes), { env: { memory } });
  return instance.exports as unknown as GeluExports;
}

export interface WasmGeluOptions {
  /** Kernel tuning (benchmarks / tests). */
  kernel?: Omit<GeluKernelOptions, "sharedMemory">;
  /** Floats per kernel call (rounded up to a multiple of 4; default 2^18 = 1 MiB). */
  chunkFloats?: number;
}

export type WasmGelu = (x: Float32Array, out: Float32Array) => void;

const PAGE_BYTES = 65536;
/** Data starts here (64-byte aligned; [0, 64) unused). */
const BASE = 64;

/**
 * gelu_new on WebAssembly SIMD, or null where wasm SIMD is unavailable. The returned function
 * may be called any number of times (not concurrently from several threads on one instance).
 */
export function createWasmGelu(options: WasmGeluOptions = {}): WasmGelu | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const chunkFloats = Math.max(4, Math.ceil(Math.floor(options.chunkFloats ?? 1 << 18) / 4) * 4);
  let memory: WasmMemory | undefined;
  let kernel: GeluExports | null = null;
  let heap: Float32Array | undefined;

  /** Instantiates lazily and makes room for `floats` floats at BASE. */
  const ensure = (floats: number): Float32Array => {
    const bytes = BASE + floats * 4;
    if (memory === undefined) {
      memory = new wa.Memory({ initial: Math.ceil(bytes / PAGE_BYTES) });
      kernel = instantiateGeluKernel(memory, options.kernel ?? {});
      if (kernel === null) throw new Error("wasm gelu: kernel instantiation failed");
    }
    const have = memory.buffer.byteLength;
    if (bytes > have) memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    if (heap === undefined || heap.buffer !== memory.buffer) heap = new Float32Array(memory.buffer);
    return heap;
  };

  return (x: Float32Array, out: Float32Array): void => {
    const n = x.length;
    if (out.length !== n) throw new InputError(`geluNew: output length ${out.length} differs from input length ${n}`, "bad_shape");
    if (n === 0) return;
    let src = x;
    // Partial overlap (same buffer, different start): chunked in→out copies could clobber input
    // not yet read, so read from a copy. Identical views are fine (each chunk is read first).
    if (overlapsPartially(x, out)) src = x.slice();
    const chunk = Math.min(chunkFloats, Math.ceil(n / 4) * 4);
    const h = ensure(chunk);
    const k = kernel!;
    const base = BASE >> 2;
    for (let i0 = 0; i0 < n; i0 += chunk) {
      const m = Math.min(chunk, n - i0);
      h.set(src.subarray(i0, i0 + m), base);
      const padded = (m + 3) & ~3;
      if (padded !== m) h.fill(0, base + m, base + padded);
      k.gelu(BASE, BASE, padded >> 2);
      out.set(h.subarray(base, base + m), i0);
    }
  };
}
