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
 * exp (simd-exp.ts, shared with other kernels; Cephes expf scheme): k = round(x·log2 e) by the
 * 1.5·2^23 "magic number" addition (whose low mantissa bits are then k, so 2^k's bits are (t << 23) + 127 << 23 with no float→int
 * conversion), r = x − k·C1 − k·C2 (Cody–Waite split of ln 2, |r| ≤ ln2/2), e^r = 1 + r + r²·P(r)
 * with the degree-5 Cephes minimax P (approximation error 2.3e-9). Measured relative error vs
 * Math.exp over [−87, 88]: ≤ 1e-7 (about 1 ulp). Lanes with x < −87 (including −∞) are masked to 0
 * (e^−87 ≈ 1.6e-38, negligible next to the row max's e^0 = 1).
 */
import { FunctionBuilder, ValType, encodeModule, type Local } from "../assembler/wasm-writer.ts";
import { emitExp, expConsts, expTemps, splatF32 } from "./simd-exp.ts";

export { EXP_UNDERFLOW } from "./simd-exp.ts";

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
