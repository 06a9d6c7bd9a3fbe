/**
 * Generates a WebAssembly SIMD128 module for the backward of GPT-2's `gelu_new`: with
 * gelu(x) = x·s, s = e/(e + 1), e = e^{2u}, u = √(2/π)(x + 0.044715x³),
 * dgelu/dx = s + x·2s(1 − s)·√(2/π)(1 + 3·0.044715x²). s comes from the forward kernel's own
 * float64-reduced exp (gelu-kernel.ts's pieces), so the backward needs no `mlp.hook_post`.
 *
 * Export (byte addresses into the imported memory "env"."memory", 4-byte aligned):
 * - `geluBackward(pre, dPost, dst, vectors)`: dst[i] = dPost[i]·gelu'(pre[i]) for i < 4·vectors;
 *   dst may equal pre or dPost. Above GELU_X_HI the derivative is 1 (s = 1 in float32), below
 *   GELU_X_LO it is 0 (|gelu'| < 1e-33 there).
 */
import { FunctionBuilder, ValType, encodeModule } from "../assembler/wasm-writer.ts";
import { emitVectorLoop, geluPieces, type Temps } from "./gelu-kernel.ts";
import { splatF32 } from "./simd-exp.ts";

const { i32, v128 } = ValType;

export interface GeluBackwardKernelOptions {
  /** Import a shared memory (must match the memory you link against). */
  sharedMemory?: boolean;
}

export interface GeluBackwardExports {
  geluBackward(pre: number, dPost: number, dst: number, vectors: number): void;
}

const UNROLL = 4;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function geluBackwardFunction(U: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32]);
  const [pre, dPost, dst, vectors] = f.params;
  const end = f.local(i32);
  const si = f.local(i32);
  const gi = f.local(i32);
  const di = f.local(i32);
  const { k, temps, load, reduce, sigmoid } = geluPieces(f, U, si);
  const konst = (v: number) => {
    const l = f.local(v128);
    f.v128ConstF32x4(splatF32(v)).set(l);
    return l;
  };
  const one = konst(1);
  const zero = konst(0);
  const twoC = konst(2 * SQRT_2_OVER_PI);
  const threeA = konst(3 * 0.044715);
  const s = f.local(v128);
  const d = f.local(v128);
  const derivative = (tm: Temps, off: number): void => {
    f.get(di);
    sigmoid(tm);
    f.set(s);
    // ((x²·3a + 1)·2c·x·s·(1 − s) + s)
    f.get(tm.x).get(tm.x).f32x4Mul().get(threeA).f32x4Mul().get(one).f32x4Add();
    f.get(twoC).f32x4Mul().get(tm.x).f32x4Mul().get(s).f32x4Mul();
    f.get(one).get(s).f32x4Sub().f32x4Mul().get(s).f32x4Add().set(d);
    // 1 above X_HI, 0 below X_LO (NaN stays NaN)
    f.get(zero).get(one).get(d).get(tm.x).get(k.xHi).f32x4Gt().v128Bitselect();
    f.get(tm.x).get(k.xLo).f32x4Lt().v128Bitselect();
    f.get(gi).v128Load(off, 2).f32x4Mul();
    f.v128Store(off, 2);
  };
  const body = (n: number): void => {
    for (let u = 0; u < n; u++) load(temps[u]!, 16 * u);
    for (let u = 0; u < n; u++) reduce(temps[u]!);
    for (let u = 0; u < n; u++) derivative(temps[u]!, 16 * u);
  };
  f.get(pre).tee(si).get(vectors).i32Const(4).i32Shl().i32Add().set(end);
  f.get(dPost).set(gi);
  f.get(dst).set(di);
  emitVectorLoop(f, U, si, end, [gi, di], body);
  emitVectorLoop(f, 1, si, end, [gi, di], body);
  return f;
}

/** Generates the module bytes. */
export function generateGeluBackwardModule(options: GeluBackwardKernelOptions = {}): Uint8Array<ArrayBuffer> {
  const shared = options.sharedMemory ?? false;
  return encodeModule({
    memory: { module: "env", name: "memory", minPages: 0, ...(shared ? { maxPages: 65536, shared: true } : {}) },
    functions: [geluBackwardFunction(UNROLL)],
    exports: { geluBackward: 0 },
  });
}
