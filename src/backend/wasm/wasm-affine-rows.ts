/**
 * The affine row kernel of affine-rows-kernel.ts instantiated against a memory (e.g. a matmul
 * backend's shared memory), to run on views of it in place. No Node built-ins.
 */
import { generateAffineRowsModule, type AffineRowsExports } from "./kernels/affine-rows-kernel.ts";
import { isSharedBuffer, type WasmMemory, webAssembly } from "./wasm-api.ts";
import { wasmSimdSupported } from "./simd-support.ts";

/** Null where WebAssembly SIMD is unavailable or the memory cannot be imported. */
export function instantiateAffineRowsKernel(memory: WasmMemory): AffineRowsExports | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  try {
    const bytes = generateAffineRowsModule({ sharedMemory: isSharedBuffer(memory.buffer) });
    return new wa.Instance(new wa.Module(bytes), { env: { memory } }).exports as unknown as AffineRowsExports;
  } catch {
    return null;
  }
}
