/**
 * Generates a WebAssembly SIMD128 module for row-wise log-sum-exp statistics of float32 data.
 *
 * Exports (all pointers are byte addresses into the imported memory "env"."memory"):
 * - `rowStats(src, rows, cols, out)`: for each of `rows` consecutive rows of `cols` f32 values
 *   starting at `src` (4-byte aligned), writes two f64s at out + 16·row:
 *     out[2·row]     = max of the row (NaN if the row contains a NaN; −∞ for cols = 0)
 *     out[2·row + 1] = Σ exp(x − max) when max is finite, else 0.
 *   log Σ exp(row) is then max + log(sum) for a finite max, else max itself (+∞ row → +∞,
 *   all −∞ → −∞, NaN → NaN). `out` must be 8-byte aligned. The kernel may READ up to 12 bytes
 *   past the end of the last row (a masked full-vector load for the cols % 4 tail; the extra lanes
 *   are ignored), so the caller must keep 16 readable bytes after the data.
 * - `exp(src, dst, n)`: dst[i] = e^src[i] for i < n, n a multiple of 4 — the same vector exp the
 *   sums use, exported for accuracy tests. Valid for src < 88.37 (2^k must stay finite); inputs below −87 (and −∞) give
 *   0, NaN gives NaN.
 *
 * Algorithm, per row: pass 1 takes the max with f32x4.pmax (one maxps; NaN lanes are skipped —
 * a non-finite result triggers a rare scalar NaN scan instead). Pass 2 computes e^(x − max) four
 * lanes at a time, `unroll` vectors per iteration, sums those vectors pairwise in f32 (so each f32
 * partial adds ≤ unroll terms) and accumulates the partials in two f64x2 accumulators — the
 * accumulated rounding error stays at the f32-partial level (≲ log2(unroll)·2^−24 relative), far
 * below 1e-6 for 50257 terms.
 *
 * exp (Cephes expf scheme): k = round(x·log2 e) by the 1.5·2^23 "magic number" addition (whose
 * low mantissa bits are then k, so 2^k's bits are (t << 23) + 127 << 23 with no float→int
 * conversion), r = x − k·C1 − k·C2 (Cody–Waite split of ln 2, |r| ≤ ln2/2), e^r = 1 + r + r²·P(r)
 * with the degree-5 Cephes minimax P (approximation error 2.3e-9). Measured relative error vs
 * Math.exp over [−87, 88]: ≤ 1e-7 (about 1 ulp). Lanes with x < −87 (including −∞) are masked to 0
 * (e^−87 ≈ 1.6e-38, negligible next to the row max's e^0 = 1).
 */
import { FunctionBuilder, ValType, encodeModule, type Local } from "./wasm-writer.ts";

const { i32, v128, f32 } = ValType;

export interface LogSumExpKernelOptions {
  /** f32x4 vectors per exp-pass iteration (1, 2, 4 or 8; default 4). */
  unroll?: number;
  /** f32x4 accumulators in the max pass (1, 2, 4 or 8; default 4). */
  maxUnroll?: number;
  /**
   * Sum each iteration's `unroll` exp vectors pairwise in f32 before widening to f64 (default
   * true; faster). false widens every exp vector to f64 directly (error ~1e-11 instead of ≲ 1e-7
   * on the log-sum-exp when one element dominates the row).
   */
  pairwise?: boolean;
  /** Import a shared memory (must match the memory you link against). */
  sharedMemory?: boolean;
}

/** The exports of an instantiated log-sum-exp module. Pointers are byte addresses. */
export interface LogSumExpExports {
  rowStats(src: number, rows: number, cols: number, out: number): void;
  exp(src: number, dst: number, n: number): void;
}

// Cephes expf constants (all exactly representable in f32 after rounding).
const LOG2E = 1.4426950408889634;
/** 1.5·2^23: adding it rounds a |v| < 2^22 to an integer held in the low mantissa bits. */
const MAGIC = 12582912;
/** ln 2 = C1 + C2; C1 has 9 significant bits so k·C1 is exact for |k| < 2^15. */
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
const EXP_POLY = [1.98756915e-4, 1.3981999507e-3, 8.3333519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
/** Inputs below this give exactly 0 (keeps 2^k a normal number). */
export const EXP_UNDERFLOW = -87;
const ONE_BITS = 0x3f800000;

const splatF32 = (v: number): [number, number, number, number] => [v, v, v, v];

/** Constants held in locals (set once per call) so loops don't rematerialize them. */
interface ExpConsts {
  log2e: Local;
  magic: Local;
  ln2hi: Local;
  ln2lo: Local;
  poly: Local[];
  one: Local;
  oneBits: Local;
  underflow: Local;
}

function expConsts(f: FunctionBuilder): ExpConsts {
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
interface ExpTemps {
  t: Local;
  k: Local;
  r: Local;
  p: Local;
}

function expTemps(f: FunctionBuilder): ExpTemps {
  return { t: f.local(v128), k: f.local(v128), r: f.local(v128), p: f.local(v128) };
}

/** Pushes e^x (lane-wise) for the f32x4 in local `x`. */
function emitExp(f: FunctionBuilder, c: ExpConsts, x: Local, tmp: ExpTemps): void {
  const { t, k, r, p } = tmp;
  // t = x·log2e + 1.5·2^23 (rounds to nearest integer), k = t − 1.5·2^23.
  f.get(x).get(c.log2e).f32x4Mul().get(c.magic).f32x4Add().tee(t).get(c.magic).f32x4Sub().set(k);
  // r = (x − k·C1) − k·C2
  f.get(x).get(k).get(c.ln2hi).f32x4Mul().f32x4Sub().get(k).get(c.ln2lo).f32x4Mul().f32x4Sub().set(r);
  // p = P(r) by Horner.
  f.get(c.poly[0]!);
  for (let i = 1; i < c.poly.length; i++) f.get(r).f32x4Mul().get(c.poly[i]!).f32x4Add();
  f.set(p);
  // y = (p·r² + r) + 1
  f.get(p).get(r).get(r).f32x4Mul().f32x4Mul().get(r).f32x4Add().get(c.one).f32x4Add();
  // · 2^k, bits (t << 23) + (127 << 23)
  f.get(t).i32Const(23).i32x4Shl().get(c.oneBits).i32x4Add().f32x4Mul();
  // & ~(x < −87)
  f.get(x).get(c.underflow).f32x4Lt().v128Andnot();
}

function checkPow2(name: string, v: number): void {
  if (![1, 2, 4, 8].includes(v)) throw new RangeError(`logsumexp kernel option ${name}=${v} not in {1, 2, 4, 8}`);
}

/** Pushes the lane mask "lane < rem" for an i32 local `rem` (1..3). */
function emitTailMask(f: FunctionBuilder, rem: Local): void {
  f.get(rem).i32x4Splat().v128ConstI32x4([0, 1, 2, 3]).i32x4GtS();
}

/** rowStats(src, rows, cols, out). */
function rowStatsFunction(U: number, MU: number, usePairwise: boolean): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32]);
  const [src, rows, cols, out] = f.params;
  const row = f.local(i32);
  const p = f.local(i32);
  const q = f.local(i32);
  const end = f.local(i32);
  const rem = f.local(i32);
  const nan = f.local(i32);
  const max = f.local(f32);
  const maxv = f.local(v128);
  const negInf = f.local(v128);
  const m = Array.from({ length: MU }, () => f.local(v128));
  const x = Array.from({ length: U }, () => f.local(v128));
  const e = Array.from({ length: U }, () => f.local(v128));
  const temps = Array.from({ length: U }, () => expTemps(f));
  const s = f.local(v128);
  const accLo = f.local(v128);
  const accHi = f.local(v128);
  const c = expConsts(f);
  f.v128ConstF32x4(splatF32(-Infinity)).set(negInf);

  /** Masked load of the tail at q (rem lanes valid): other lanes −∞. */
  const tailLoad = (): void => {
    f.get(q).v128Load(0, 2).get(negInf);
    emitTailMask(f, rem);
    f.v128Bitselect();
  };

  /** while (q + bytes ≤ end) { body(); q += bytes } */
  const stride = (bytes: number, body: () => void): void => {
    f.block(() => {
      f.loop(() => {
        f.get(q).i32Const(bytes).i32Add().get(end).i32GtU().brIf(1);
        body();
        f.get(q).i32Const(bytes).i32Add().set(q);
        f.br(0);
      });
    });
  };

  /** Tail (rem = (end − q)/4 lanes, 0..3). */
  const tail = (body: () => void): void => {
    f.get(end).get(q).i32Sub().i32Const(2).i32ShrU().tee(rem).if_(body);
  };

  /** s (f32x4 partial) → f64 accumulators. */
  const flush = (): void => {
    f.get(accLo).get(s).f64x2PromoteLowF32x4().f64x2Add().set(accLo);
    f.get(accHi).get(s).get(s).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).f64x2PromoteLowF32x4().f64x2Add().set(accHi);
  };

  /** Pushes the pairwise f32 sum of locals vs. */
  const pairwise = (vs: Local[]): void => {
    if (vs.length === 1) {
      f.get(vs[0]!);
      return;
    }
    const h = vs.length / 2;
    pairwise(vs.slice(0, h));
    pairwise(vs.slice(h));
    f.f32x4Add();
  };

  f.get(src).set(p);
  f.forRange(row, () => f.i32Const(0), () => f.get(rows), 1, () => {
    f.get(p).get(cols).i32Const(4).i32Mul().i32Add().set(end);

    // ---- pass 1: max (pmax: NaN lanes ignored)
    for (const mu of m) f.get(negInf).set(mu);
    f.get(p).set(q);
    stride(16 * MU, () => {
      for (let u = 0; u < MU; u++) f.get(m[u]!).get(q).v128Load(16 * u, 2).f32x4Pmax().set(m[u]!);
    });
    for (let width = MU; width > 1; width /= 2) {
      for (let u = 0; u < width / 2; u++) f.get(m[u]!).get(m[u + width / 2]!).f32x4Pmax().set(m[u]!);
    }
    stride(16, () => {
      f.get(m[0]!).get(q).v128Load(0, 2).f32x4Pmax().set(m[0]!);
    });
    tail(() => {
      f.get(m[0]!);
      tailLoad();
      f.f32x4Pmax().set(m[0]!);
    });
    f.get(m[0]!).f32x4ExtractLane(0).get(m[0]!).f32x4ExtractLane(1).f32Max();
    f.get(m[0]!).f32x4ExtractLane(2).get(m[0]!).f32x4ExtractLane(3).f32Max();
    f.f32Max().set(max);

    // Non-finite max (+∞, or −∞: all lanes −∞/NaN, or cols = 0): scan for NaN (rare path).
    f.get(max).get(max).f32Sub().f32Const(0).f32Ne().if_(() => {
      f.i32Const(0).set(nan);
      f.get(p).set(q);
      f.block(() => {
        f.loop(() => {
          f.get(q).get(end).i32GeU().brIf(1);
          f.get(q).f32Load().get(q).f32Load().f32Ne().if_(() => {
            f.i32Const(1).set(nan);
            f.br(2);
          });
          f.get(q).i32Const(4).i32Add().set(q);
          f.br(0);
        });
      });
      f.get(nan).if_(() => {
        f.f32Const(NaN).set(max);
      });
    });
    f.get(out).get(max).f64PromoteF32().f64Store(0);

    // ---- pass 2: Σ exp(x − max), only for a finite max
    f.get(max).get(max).f32Sub().f32Const(0).f32Eq().if_(
      () => {
        f.get(max).f32x4Splat().set(maxv);
        f.v128ConstF32x4([0, 0, 0, 0]).tee(accLo).set(accHi);
        f.get(p).set(q);
        stride(16 * U, () => {
          for (let u = 0; u < U; u++) f.get(q).v128Load(16 * u, 2).get(maxv).f32x4Sub().set(x[u]!);
          for (let u = 0; u < U; u++) {
            emitExp(f, c, x[u]!, temps[u]!);
            f.set(e[u]!);
          }
          if (usePairwise) {
            pairwise(e);
            f.set(s);
            flush();
          } else {
            for (const eu of e) {
              f.get(eu).set(s);
              flush();
            }
          }
        });
        stride(16, () => {
          f.get(q).v128Load(0, 2).get(maxv).f32x4Sub().set(x[0]!);
          emitExp(f, c, x[0]!, temps[0]!);
          f.set(s);
          flush();
        });
        tail(() => {
          tailLoad();
          f.get(maxv).f32x4Sub().set(x[0]!);
          emitExp(f, c, x[0]!, temps[0]!);
          f.set(s);
          flush();
        });
        f.get(accLo).get(accHi).f64x2Add().set(accLo);
        f.get(out).get(accLo).f64x2ExtractLane(0).get(accLo).f64x2ExtractLane(1).f64Add().f64Store(8);
      },
      () => {
        f.get(out).f64Const(0).f64Store(8);
      },
    );

    f.get(end).set(p);
    f.get(out).i32Const(16).i32Add().set(out);
  });
  return f;
}

/** exp(src, dst, n): n a multiple of 4. */
function expFunction(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32]);
  const [src, dst, n] = f.params;
  const i = f.local(i32);
  const x = f.local(v128);
  const tmp = expTemps(f);
  const c = expConsts(f);
  f.forRange(i, () => f.i32Const(0), () => f.get(n).i32Const(4).i32Mul(), 16, () => {
    f.get(dst).get(i).i32Add();
    f.get(src).get(i).i32Add().v128Load(0, 2).set(x);
    emitExp(f, c, x, tmp);
    f.v128Store(0, 2);
  });
  return f;
}

/** Generates the module bytes. */
export function generateLogSumExpModule(options: LogSumExpKernelOptions = {}): Uint8Array<ArrayBuffer> {
  const U = options.unroll ?? 4;
  const MU = options.maxUnroll ?? 4;
  checkPow2("unroll", U);
  checkPow2("maxUnroll", MU);
  const shared = options.sharedMemory ?? false;
  return encodeModule({
    memory: { module: "env", name: "memory", minPages: 0, ...(shared ? { maxPages: 65536, shared: true } : {}) },
    functions: [rowStatsFunction(U, MU, options.pairwise ?? true), expFunction()],
    exports: { rowStats: 0, exp: 1 },
  });
}
