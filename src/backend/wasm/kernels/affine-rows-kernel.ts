/**
 * Generates a WebAssembly SIMD128 module for the row update x ← (base + x)·scale + bias in float32.
 *
 * Export (byte addresses into the imported memory "env"."memory"):
 * - `affineRow(x, base, bias, cols, scale)`: for j < cols, x[j] = (base[j] + x[j])·scale + bias[j],
 *   each operation rounded to float32 (the same bits as Math.fround after every step). All three
 *   arrays hold `cols` f32s, 4-byte aligned; nothing past them is read or written.
 */
import { FunctionBuilder, ValType, encodeModule } from "../assembler/wasm-writer.ts";

const { i32, f32, v128 } = ValType;

export interface AffineRowsExports {
  affineRow(x: number, base: number, bias: number, cols: number, scale: number): void;
}

function affineRowFunction(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, f32]);
  const [x, base, bias, cols, scale] = f.params;
  const i = f.local(i32);
  const end = f.local(i32);
  const vectorEnd = f.local(i32);
  const s = f.local(v128);
  f.get(scale).f32x4Splat().set(s);
  f.get(cols).i32Const(2).i32Shl().tee(end).i32Const(~15).i32And().set(vectorEnd);
  f.forRange(i, () => f.i32Const(0), () => f.get(vectorEnd), 16, () => {
    f.get(x).get(i).i32Add();
    f.get(base).get(i).i32Add().v128Load(0, 2);
    f.get(x).get(i).i32Add().v128Load(0, 2).f32x4Add();
    f.get(s).f32x4Mul();
    f.get(bias).get(i).i32Add().v128Load(0, 2).f32x4Add();
    f.v128Store(0, 2);
  });
  f.forRange(i, () => f.get(vectorEnd), () => f.get(end), 4, () => {
    f.get(x).get(i).i32Add();
    f.get(base).get(i).i32Add().f32Load();
    f.get(x).get(i).i32Add().f32Load().f32Add();
    f.get(scale).f32Mul();
    f.get(bias).get(i).i32Add().f32Load().f32Add();
    f.f32Store();
  });
  return f;
}

/** The module bytes; `sharedMemory` must match the memory it is linked against. */
export function generateAffineRowsModule(options: { sharedMemory?: boolean } = {}): Uint8Array<ArrayBuffer> {
  const shared = options.sharedMemory ?? false;
  return encodeModule({
    memory: { module: "env", name: "memory", minPages: 0, ...(shared ? { maxPages: 65536, shared: true } : {}) },
    functions: [affineRowFunction()],
    exports: { affineRow: 0 },
  });
}
