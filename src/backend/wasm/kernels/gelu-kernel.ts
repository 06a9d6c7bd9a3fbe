/**
 * Generates a WebAssembly SIMD128 module for GPT-2's `gelu_new` on float32 data:
 * gelu(x) = 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), computed (like activation.ts) as
 * x·e/(e + 1) with e = e^{2u} — the same function, free of the 1 + tanh cancellation.
 *
 * Export (byte addresses into the imported memory "env"."memory"):
 * - `gelu(src, dst, vectors)`: dst[i] = gelu(src[i]) for i < 4·vectors; src and dst 4-byte
 *   aligned, and may be equal (each vector is loaded before its result is stored).
 *
 * Accuracy. For negative x the result is ≈ x·e^{2u}, whose relative error is the ABSOLUTE error of
 * the exp argument 2u (up to ~85 in magnitude) — far too much in float32 (|2u|·2^−24 ≈ 5e-6). So
 * the argument and its range reduction are done in float64 (two f64x2 halves per f32x4):
 * t = (x²·0.044715·c + c)·x with c = 2√(2/π), k = round(t·log2 e) by the 1.5·2^52 magic addition
 * (whose low 32 bits are then k), r = t − k·ln 2 (float64, |r| ≤ ln2/2). r is rounded to float32
 * (≤ 1.5e-8 absolute) and e^r·2^k is evaluated with the shared Cephes f32 polynomial of
 * simd-exp.ts (≈ 1e-7 relative). Then s = e/(e + 1), result x·s (x is never multiplied by e
 * directly, so huge x cannot overflow). Measured: ≤ ~2e-7 relative to the float64 function (see
 * test/backend/wasm/wasm-gelu.test.ts).
 *
 * Range: x is clamped to [X_LO, X_HI] for the exp (so 2^k stays normal and finite): above X_HI,
 * e > 1e28 and s = 1 exactly in f32 (result x, +∞ → +∞); below X_LO (incl. −∞) the result is −0
 * (|true value| < 2e-36 there). NaN propagates (the clamps use NaN-propagating min/max, and the
 * final x·s carries the NaN).
 */
import { emitExpPoly, emitPow2Scale, expConsts, splatF32 } from "./simd-exp.ts";
import { FunctionBuilder, ValType, encodeModule, type Local } from "../assembler/wasm-writer.ts";

const { i32, v128 } = ValType;

export interface GeluKernelOptions {
  /** f32x4 vectors per loop iteration (1, 2, 4 or 8; default 8). */
  unroll?: number;
  /** Import a shared memory (must match the memory you link against). */
  sharedMemory?: boolean;
}

/** The exports of an instantiated gelu module. Pointers are byte addresses. */
export interface GeluExports {
  gelu(src: number, dst: number, vectors: number): void;
}

/** c = 2√(2/π). */
const C2 = 2 * Math.sqrt(2 / Math.PI);
const C2A = C2 * 0.044715;
const LOG2E = Math.LOG2E;
const LN2 = Math.LN2;
/** 1.5·2^52: adding it rounds |v| < 2^51 to an integer held in the low mantissa bits. */
const MAGIC64 = 6755399441055744;
/** Inputs above this give x itself (2u(9) ≈ 66.4; e > 1e28). */
export const GELU_X_HI = 9;
/** Inputs below this give −0 (2u(−9.9) ≈ −85.0, so |gelu| < 2e-36 below). */
export const GELU_X_LO = -9.9;
const NEG_ZERO_BITS = 0x80000000;

/** v128.const with two f64 lanes. */
function v128ConstF64x2(f: FunctionBuilder, v: number): void {
  const words = new Uint32Array(new Float64Array([v, v]).buffer);
  f.v128ConstI32x4([words[0]!, words[1]!, words[2]!, words[3]!]);
}

/** Byte shuffle: the high 8 bytes of a vector moved to the low half. */
const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
/** Byte shuffle: low f32 pair of a ‖ low f32 pair of b. */
const LOW_PAIRS = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
/** Byte shuffle: the low 32 bits of each i64 lane of a ‖ b. */
const LOW_WORDS = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];

export interface Consts {
  xLo: Local;
  xHi: Local;
  c2: Local;
  c2a: Local;
  log2e: Local;
  magic: Local;
  negMagic: Local;
  negLn2: Local;
  negZero: Local;
}

/** Per-vector scratch locals. */
export interface Temps {
  x: Local;
  xc: Local;
  h: [Local, Local];
  t: Local;
  y: [Local, Local];
  rf: [Local, Local];
  r: Local;
  k: Local;
  p: Local;
  e: Local;
}

/**
 * The locals and the emitters shared by gelu_new and its derivative (gelu-backward-kernel.ts): for
 * the vector at byte offset `off` from `si`, `load` and `reduce` leave x in `tm.x` and the reduced
 * exp argument in `tm.r`, `tm.k`; `sigmoid` pushes s = e/(e + 1), e = e^{2u}, so gelu_new(x) = x·s.
 */
export interface GeluPieces {
  readonly k: Consts;
  readonly temps: Temps[];
  load(tm: Temps, off: number): void;
  reduce(tm: Temps): void;
  sigmoid(tm: Temps): void;
}

export function geluPieces(f: FunctionBuilder, U: number, si: Local): GeluPieces {
  const mkF32 = (v: number): Local => {
    const l = f.local(v128);
    f.v128ConstF32x4(splatF32(v)).set(l);
    return l;
  };
  const mkF64 = (v: number): Local => {
    const l = f.local(v128);
    v128ConstF64x2(f, v);
    f.set(l);
    return l;
  };
  const k: Consts = {
    xLo: mkF32(GELU_X_LO),
    xHi: mkF32(GELU_X_HI),
    c2: mkF64(C2),
    c2a: mkF64(C2A),
    log2e: mkF64(LOG2E),
    magic: mkF64(MAGIC64),
    negMagic: mkF64(-MAGIC64),
    negLn2: mkF64(-LN2),
    negZero: f.local(v128),
  };
  f.v128ConstI32x4([NEG_ZERO_BITS, NEG_ZERO_BITS, NEG_ZERO_BITS, NEG_ZERO_BITS]).set(k.negZero);
  const ec = expConsts(f);
  const temps: Temps[] = Array.from({ length: U }, () => ({
    x: f.local(v128),
    xc: f.local(v128),
    h: [f.local(v128), f.local(v128)],
    t: f.local(v128),
    y: [f.local(v128), f.local(v128)],
    rf: [f.local(v128), f.local(v128)],
    r: f.local(v128),
    k: f.local(v128),
    p: f.local(v128),
    e: f.local(v128),
  }));
  return {
    k,
    temps,
    // load, clamp, widen
    load: (tm, off) => {
      f.get(si).v128Load(off, 2).tee(tm.x).get(k.xLo).f32x4Max().get(k.xHi).f32x4Min().tee(tm.xc);
      f.f64x2PromoteLowF32x4().set(tm.h[0]);
      f.get(tm.xc).get(tm.xc).i8x16Shuffle(HIGH_TO_LOW).f64x2PromoteLowF32x4().set(tm.h[1]);
    },
    // float64 argument and range reduction, per half
    reduce: (tm) => {
      for (const j of [0, 1] as const) {
        const h = tm.h[j];
        // t = (h²·c2a + c2)·h
        f.get(h).get(h).f64x2Mul().get(k.c2a).f64x2Mul().get(k.c2).f64x2Add().get(h).f64x2Mul().set(tm.t);
        // y = t·log2e + 1.5·2^52 (low word = k); kf = y − 1.5·2^52; r = kf·(−ln2) + t
        f.get(tm.t).get(k.log2e).f64x2Mul().get(k.magic).f64x2Add().tee(tm.y[j]);
        f.get(k.negMagic).f64x2Add().get(k.negLn2).f64x2Mul().get(tm.t).f64x2Add();
        f.f32x4DemoteF64x2Zero();
        f.set(tm.rf[j]);
      }
      f.get(tm.rf[0]).get(tm.rf[1]).i8x16Shuffle(LOW_PAIRS).set(tm.r);
      f.get(tm.y[0]).get(tm.y[1]).i8x16Shuffle(LOW_WORDS).set(tm.k);
    },
    // e = e^r·2^k; s = e/(e + 1)
    sigmoid: (tm) => {
      emitExpPoly(f, ec, tm.r, tm.p);
      emitPow2Scale(f, ec, tm.k);
      f.tee(tm.e).get(tm.e).get(ec.one).f32x4Add();
      f.f32x4Div();
    },
  };
}

/** while (si + 16·n ≤ end) { body(n); si, dst pointers += 16·n } */
export function emitVectorLoop(f: FunctionBuilder, n: number, si: Local, end: Local, pointers: readonly Local[], body: (n: number) => void): void {
  const bytes = 16 * n;
  f.block(() => {
    f.loop(() => {
      f.get(si).i32Const(bytes).i32Add().get(end).i32GtU().brIf(1);
      body(n);
      for (const p of [si, ...pointers]) f.get(p).i32Const(bytes).i32Add().set(p);
      f.br(0);
    });
  });
}

function geluFunction(U: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32]);
  const [src, dst, vectors] = f.params;
  const end = f.local(i32);
  const si = f.local(i32);
  const di = f.local(i32);
  const { k, temps, load, reduce, sigmoid } = geluPieces(f, U, si);
  // out = x·s, −0 below X_LO
  const store = (tm: Temps, off: number): void => {
    f.get(di);
    f.get(k.negZero).get(tm.x);
    sigmoid(tm);
    f.f32x4Mul();
    f.get(tm.x).get(k.xLo).f32x4Lt().v128Bitselect();
    f.v128Store(off, 2);
  };
  const body = (n: number): void => {
    for (let u = 0; u < n; u++) load(temps[u]!, 16 * u);
    for (let u = 0; u < n; u++) reduce(temps[u]!);
    for (let u = 0; u < n; u++) store(temps[u]!, 16 * u);
  };
  f.get(src).tee(si).get(vectors).i32Const(4).i32Shl().i32Add().set(end);
  f.get(dst).set(di);
  if (U > 1) emitVectorLoop(f, U, si, end, [di], body);
  emitVectorLoop(f, 1, si, end, [di], body);
  return f;
}

/** Generates the module bytes. */
export function generateGeluModule(options: GeluKernelOptions = {}): Uint8Array<ArrayBuffer> {
  const U = options.unroll ?? 8;
  if (![1, 2, 4, 8].includes(U)) throw new RangeError(`gelu kernel option unroll=${U} not in {1, 2, 4, 8}`);
  const shared = options.sharedMemory ?? false;
  return encodeModule({
    memory: { module: "env", name: "memory", minPages: 0, ...(shared ? { maxPages: 65536, shared: true } : {}) },
    functions: [geluFunction(U)],
    exports: { gelu: 0 },
  });
}
