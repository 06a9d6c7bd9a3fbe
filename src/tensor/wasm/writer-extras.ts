/**
 * Opcodes that wasm-writer.ts's FunctionBuilder has no method for yet, emitted through its
 * (TypeScript-private) `op` / `simd` emitters. Move these into FunctionBuilder proper when
 * wasm-writer.ts is next touched; callers then switch to the methods.
 */
import type { FunctionBuilder } from "./wasm-writer.ts";

type Emitters = { op?: (opcode: number) => unknown; simd?: (opcode: number) => unknown };

function emit(f: FunctionBuilder, kind: "op" | "simd", opcode: number): void {
  const emitter = (f as unknown as Emitters)[kind];
  if (typeof emitter !== "function") throw new Error(`wasm-writer FunctionBuilder has no ${kind} emitter`);
  emitter.call(f, opcode);
}

/** f32x4.div (SIMD 0xe7): pops a, b; pushes a / b. */
export function f32x4Div(f: FunctionBuilder): void {
  emit(f, "simd", 0xe7);
}

/** f32x4.demote_f64x2_zero (SIMD 0x5e): [f32(a0), f32(a1), 0, 0]. */
export function f32x4DemoteF64x2Zero(f: FunctionBuilder): void {
  emit(f, "simd", 0x5e);
}

/** f64.div (0xa3). */
export function f64Div(f: FunctionBuilder): void {
  emit(f, "op", 0xa3);
}

/** f32.demote_f64 (0xb6). */
export function f32DemoteF64(f: FunctionBuilder): void {
  emit(f, "op", 0xb6);
}
