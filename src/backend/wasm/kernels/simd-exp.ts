/**
 * The f32x4 exp shared by the generated WebAssembly SIMD kernels (logsumexp-kernel.ts,
 * gelu-kernel.ts): emitters that push e^x for a v128 local, built with wasm-writer.ts.
 *
 * Cephes expf scheme: k = round(x·log2 e) by the 1.5·2^23 "magic number" addition (whose low
 * mantissa bits are then k, so 2^k's bits are (t << 23) + (127 << 23) with no float→int
 * conversion), r = x − k·C1 − k·C2 (Cody–Waite split of ln 2, |r| ≤ ln2/2), e^r = 1 + r + r²·P(r)
 * with the degree-5 Cephes minimax P (approximation error 2.3e-9). Measured relative error vs
 * Math.exp over [−87, 88]: ≤ 1e-7 (about 1 ulp).
 *
 * The pieces are exported separately so a kernel that does its own (e.g. float64) range
 * reduction can reuse the polynomial ({@link emitExpPoly}) and the 2^k scaling
 * ({@link emitPow2Scale}).
 */
import { type FunctionBuilder, ValType, type Local } from "../assembler/wasm-writer.ts";

const { v128 } = ValType;

const LOG2E = 1.4426950408889634;
/** 1.5·2^23: adding it rounds a |v| < 2^22 to an integer held in the low mantissa bits. */
const MAGIC = 12582912;
/** ln 2 = C1 + C2; C1 has 9 significant bits so k·C1 is exact for |k| < 2^15. */
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
const EXP_POLY = [1.98756915e-4, 1.3981999507e-3, 8.3333519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
/** Inputs below this give exactly 0 from {@link emitExp} (keeps 2^k a normal number). */
export const EXP_UNDERFLOW = -87;
const ONE_BITS = 0x3f800000;

export const splatF32 = (v: number): [number, number, number, number] => [v, v, v, v];

/** Constants held in locals (set once per call) so loops don't rematerialize them. */
export interface ExpConsts {
  log2e: Local;
  magic: Local;
  ln2hi: Local;
  ln2lo: Local;
  poly: Local[];
  one: Local;
  oneBits: Local;
  underflow: Local;
}

/** Declares the constant locals and emits their initialization (call once, before any loop). */
export function expConsts(f: FunctionBuilder): ExpConsts {
  const mk = (v: number): Local => {
    const l = f.local(v128);
    f.v128ConstF32x4(splatF32(v)).set(l);
    return l;
  };
  const c: ExpConsts = {
    log2e: mk(LOG2E),
    magic: mk(MAGIC),
    ln2hi: mk(LN2_HI),
    ln2lo: mk(LN2_LO),
    poly: EXP_POLY.map(mk),
    one: mk(1),
    oneBits: f.local(v128),
    underflow: mk(EXP_UNDERFLOW),
  };
  f.v128ConstI32x4([ONE_BITS, ONE_BITS, ONE_BITS, ONE_BITS]).set(c.oneBits);
  return c;
}

/** Scratch locals for one in-flight exp. */
export interface ExpTemps {
  t: Local;
  k: Local;
  r: Local;
  p: Local;
}

export function expTemps(f: FunctionBuilder): ExpTemps {
  return { t: f.local(v128), k: f.local(v128), r: f.local(v128), p: f.local(v128) };
}

/**
 * Pushes e^r (lane-wise) for the f32x4 in local `r`, |r| ≤ ln2/2 (+ a little): (P(r)·r² + r) + 1.
 * Uses the scratch local `p`.
 */
export function emitExpPoly(f: FunctionBuilder, c: ExpConsts, r: Local, p: Local): void {
  // p = P(r) by Horner.
  f.get(c.poly[0]!);
  for (let i = 1; i < c.poly.length; i++) f.get(r).f32x4Mul().get(c.poly[i]!).f32x4Add();
  f.set(p);
  // (p·r² + r) + 1
  f.get(p).get(r).get(r).f32x4Mul().f32x4Mul().get(r).f32x4Add().get(c.one).f32x4Add();
}

/**
 * Multiplies the f32x4 on top of the stack by 2^k, where the low 9 bits of each i32 lane of local
 * `kBits` hold k (two's complement; −126 ≤ k ≤ 127 for a normal 2^k): bits (k << 23) + (127 << 23).
 */
export function emitPow2Scale(f: FunctionBuilder, c: ExpConsts, kBits: Local): void {
  f.get(kBits).i32Const(23).i32x4Shl().get(c.oneBits).i32x4Add().f32x4Mul();
}

/**
 * Pushes e^x (lane-wise) for the f32x4 in local `x`. Valid for x < 88.37 (2^k must stay finite);
 * lanes with x < −87 (including −∞) are masked to 0; NaN gives NaN.
 */
export function emitExp(f: FunctionBuilder, c: ExpConsts, x: Local, tmp: ExpTemps): void {
  const { t, k, r, p } = tmp;
  // t = x·log2e + 1.5·2^23 (rounds to nearest integer), k = t − 1.5·2^23.
  f.get(x).get(c.log2e).f32x4Mul().get(c.magic).f32x4Add().tee(t).get(c.magic).f32x4Sub().set(k);
  // r = (x − k·C1) − k·C2
  f.get(x).get(k).get(c.ln2hi).f32x4Mul().f32x4Sub().get(k).get(c.ln2lo).f32x4Mul().f32x4Sub().set(r);
  emitExpPoly(f, c, r, p);
  // · 2^k (t's low mantissa bits are k)
  emitPow2Scale(f, c, t);
  // & ~(x < −87)
  f.get(x).get(c.underflow).f32x4Lt().v128Andnot();
}
