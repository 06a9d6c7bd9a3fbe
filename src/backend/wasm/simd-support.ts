/** Feature tests of the engine's WebAssembly: SIMD128, and relaxed SIMD (fused multiply-adds). */
import { relaxedSimdProbeModule, simdProbeModule } from "./kernels/gemm-kernel.ts";
import { webAssembly } from "./wasm-api.ts";

/** True if the engine validates WebAssembly SIMD128 code. */
export function wasmSimdSupported(): boolean {
  const wa = webAssembly();
  if (wa === undefined) return false;
  try {
    return wa.validate(simdProbeModule());
  } catch {
    return false;
  }
}

/** True if the engine validates relaxed-SIMD code (f32x4.relaxed_madd). */
export function wasmRelaxedSimdSupported(): boolean {
  const wa = webAssembly();
  if (wa === undefined) return false;
  try {
    return wa.validate(relaxedSimdProbeModule());
  } catch {
    return false;
  }
}
