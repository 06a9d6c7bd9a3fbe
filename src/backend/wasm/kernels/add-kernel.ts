/**
 * Generates a WebAssembly SIMD128 module for elementwise float32 sums. An f32x4.add is the float32
 * rounding of the exact sum, as JavaScript's `x[i] + y[i]` stored to a Float32Array is (a float64
 * sum of two float32s rounds to the same float32), so results are bit-identical to the plain loop.
 *
 * Export (byte addresses into the imported memory "env"."memory", 4-byte aligned):
 * - `sum(x, y, dst, n)`: dst[i] = x[i] + y[i] for i < n; dst may equal x or y.
 */
import { FunctionBuilder, ValType, encodeModule, type Local } from "../assembler/wasm-writer.ts";

const { i32 } = ValType;

export interface AddKernelOptions {
  /** Import a shared memory (must match the memory you link against). */
  sharedMemory?: boolean;
}

export interface AddExports {
  sum(x: number, y: number, dst: number, n: number): void;
}

const UNROLL = 4;

function addFunction(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32]);
  const [x, y, d, n] = f.params as [Local, Local, Local, Local];
  const end = f.local(i32);
  const stride = (bytes: number, body: () => void): void => {
    f.block(() => {
      f.loop(() => {
        f.get(x).i32Const(bytes).i32Add().get(end).i32GtU().brIf(1);
        body();
        for (const l of [x, y, d]) f.get(l).i32Const(bytes).i32Add().set(l);
        f.br(0);
      });
    });
  };
  f.get(x).get(n).i32Const(2).i32Shl().i32Add().set(end);
  stride(16 * UNROLL, () => {
    for (let u = 0; u < UNROLL; u++) f.get(d).get(x).v128Load(16 * u, 2).get(y).v128Load(16 * u, 2).f32x4Add().v128Store(16 * u, 2);
  });
  stride(16, () => {
    f.get(d).get(x).v128Load(0, 2).get(y).v128Load(0, 2).f32x4Add().v128Store(0, 2);
  });
  stride(4, () => {
    f.get(d).get(x).f32Load().get(y).f32Load().f32Add().f32Store();
  });
  return f;
}

/** Generates the module bytes. */
export function generateAddModule(options: AddKernelOptions = {}): Uint8Array<ArrayBuffer> {
  const shared = options.sharedMemory ?? false;
  return encodeModule({
    memory: { module: "env", name: "memory", minPages: 0, ...(shared ? { maxPages: 65536, shared: true } : {}) },
    functions: [addFunction()],
    exports: { sum: 0 },
  });
}
