import { generateGemmModule, type GemmExports, type GemmKernelLayout, type GemmKernelOptions } from "../kernels/gemm-kernel.ts";
import { wasmRelaxedSimdSupported, wasmSimdSupported } from "../simd-support.ts";
import { isSharedBuffer, type WasmMemory, webAssembly } from "../wasm-api.ts";

/** Resolved kernel options (everything except the memory kind, which follows the memory). */
export type GemmKernelConfig = Omit<GemmKernelOptions, "sharedMemory">;

/**
 * Generates and instantiates the GEMM kernel against `memory` (plain or shared). Returns null when
 * WebAssembly SIMD is unavailable (or `relaxedSimd` is requested but unsupported). Use this in
 * workers that share a WasmGemm's memory; pass that WasmGemm's `kernelOptions` so the packed
 * layout matches.
 */
export function instantiateGemmKernel(
  memory: WasmMemory,
  options: GemmKernelConfig = {},
): { exports: GemmExports; layout: GemmKernelLayout } | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  if (options.relaxedSimd && !wasmRelaxedSimdSupported()) return null;
  const kernel = generateGemmModule({ ...options, sharedMemory: isSharedBuffer(memory.buffer) });
  const instance = new wa.Instance(new wa.Module(kernel.bytes), { env: { memory } });
  const { mr, nr, kc, mc } = kernel;
  return { exports: instance.exports as unknown as GemmExports, layout: mc === undefined ? { mr, nr, kc } : { mr, nr, kc, mc } };
}
