/**
 * Generates a WebAssembly SIMD128 module for row-wise softmax of float32 data with the semantics
 * of src/tensor/softmax.ts (−∞ entries, e.g. causal masks, get exactly 0; a row that is entirely
 * −∞ is an error the caller reports).
 *
 * Export (byte addresses into the imported memory "env"."memory"):
 * - `softmaxRows(src, dst, rows, width) → i32`: for each of `rows` consecutive rows of `width` ≥ 1
 *   f32 values at src (4-byte aligned) writes softmax(row) to the same place at dst (src = dst
 *   allowed). Returns 1, or 0 if some row's max is −∞ (all −∞, ignoring NaNs — as softmax.ts),
 *   in which case that row of dst is left unwritten. It reads and writes only inside the rows
 *   (so row ranges can run on different threads).
 * - `softmaxRowsFlagged(src, dst, rows, width, flag)`: the same, storing i32 0 at `flag` instead of
 *   returning 0 (a pool row job; the caller sets the flag to 1 first).
 *
 * Per row: max with f32x4.pmax (NaN lanes skipped, like softmax.ts's `>`); e = exp(x − max) with
 * the shared f32x4 exp of simd-exp.ts (x − max < −87, incl. −∞, → exactly 0; NaN and +∞ rows
 * give NaN rows, like softmax.ts), stored to dst, summed pairwise in f32 per iteration then in
 * float64; finally dst ·= f32(1/sum).
 */
import { emitExp, expConsts, expTemps, splatF32 } from "./simd-exp.ts";
import { FunctionBuilder, ValType, encodeModule } from "../assembler/wasm-writer.ts";

const { i32, f32, f64, v128 } = ValType;

export interface SoftmaxKernelOptions {
  /** Import a shared memory (must match the memory you link against). */
  sharedMemory?: boolean;
}

export interface SoftmaxExports {
  softmaxRows(src: number, dst: number, rows: number, width: number): number;
}

const U = 4;

function softmaxFunction(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32], [i32]);
  const [src, dst, rows, width] = f.params;
  const row = f.local(i32);
  const ok = f.local(i32);
  const p = f.local(i32); // row start (src)
  const q = f.local(i32); // cursor (src)
  const d = f.local(i32); // cursor (dst)
  const end = f.local(i32);
  const rem = f.local(i32);
  const max = f.local(f32);
  const inv = f.local(f32);
  const sum = f.local(f64);
  const maxv = f.local(v128);
  const negInf = f.local(v128);
  const m = f.local(v128);
  const x = Array.from({ length: U }, () => f.local(v128));
  const e = Array.from({ length: U }, () => f.local(v128));
  const temps = Array.from({ length: U }, () => expTemps(f));
  const s = f.local(v128);
  const accLo = f.local(v128);
  const accHi = f.local(v128);
  const t = f.local(v128);
  const c = expConsts(f);
  f.v128ConstF32x4(splatF32(-Infinity)).set(negInf);
  f.i32Const(1).set(ok);

  /** while (q + bytes ≤ end) { body(); q += bytes; d += bytes } */
  const stride = (bytes: number, body: () => void): void => {
    f.block(() => {
      f.loop(() => {
        f.get(q).i32Const(bytes).i32Add().get(end).i32GtU().brIf(1);
        body();
        f.get(q).i32Const(bytes).i32Add().set(q);
        f.get(d).i32Const(bytes).i32Add().set(d);
        f.br(0);
      });
    });
  };
  /** if (rem = (end − q)/4) body() */
  const tail = (body: () => void): void => {
    f.get(end).get(q).i32Sub().i32Const(2).i32ShrU().tee(rem).if_(body);
  };
  /** The rem (1–3) floats at q, lanes ≥ rem −∞; reads nothing past them (rows split over threads). */
  const tailLoad = (): void => {
    f.get(negInf).get(q).f32Load(0).f32x4ReplaceLane(0).set(t);
    f.get(rem).i32Const(2).i32GeU().if_(() => f.get(t).get(q).f32Load(4).f32x4ReplaceLane(1).set(t));
    f.get(rem).i32Const(3).i32GeU().if_(() => f.get(t).get(q).f32Load(8).f32x4ReplaceLane(2).set(t));
    f.get(t);
  };
  const flush = (): void => {
    f.get(accLo).get(s).f64x2PromoteLowF32x4().f64x2Add().set(accLo);
    f.get(accHi).get(s).get(s).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).f64x2PromoteLowF32x4().f64x2Add().set(accHi);
  };
  const rowStart = (): void => {
    f.get(p).set(q);
    f.get(dst).get(p).i32Add().get(src).i32Sub().set(d);
  };

  f.get(src).set(p);
  f.forRange(row, () => f.i32Const(0), () => f.get(rows), 1, () => {
    f.get(p).get(width).i32Const(4).i32Mul().i32Add().set(end);

    // ---- max
    f.get(negInf).set(m);
    rowStart();
    stride(16, () => {
      f.get(m).get(q).v128Load(0, 2).f32x4Pmax().set(m);
    });
    tail(() => {
      f.get(m);
      tailLoad();
      f.f32x4Pmax().set(m);
    });
    f.get(m).f32x4ExtractLane(0).get(m).f32x4ExtractLane(1).f32Max();
    f.get(m).f32x4ExtractLane(2).get(m).f32x4ExtractLane(3).f32Max();
    f.f32Max().set(max);

    f.get(max).f32Const(-Infinity).f32Eq().if_(
      () => {
        f.i32Const(0).set(ok);
      },
      () => {
        // ---- e = exp(x − max) → dst, Σ e
        f.get(max).f32x4Splat().set(maxv);
        f.v128ConstF32x4([0, 0, 0, 0]).tee(accLo).set(accHi);
        rowStart();
        stride(16 * U, () => {
          for (let u = 0; u < U; u++) f.get(q).v128Load(16 * u, 2).get(maxv).f32x4Sub().set(x[u]!);
          for (let u = 0; u < U; u++) {
            f.get(d);
            emitExp(f, c, x[u]!, temps[u]!);
            f.tee(e[u]!).v128Store(16 * u, 2);
          }
          f.get(e[0]!).get(e[1]!).f32x4Add().get(e[2]!).get(e[3]!).f32x4Add().f32x4Add().set(s);
          flush();
        });
        stride(16, () => {
          f.get(q).v128Load(0, 2).get(maxv).f32x4Sub().set(x[0]!);
          f.get(d);
          emitExp(f, c, x[0]!, temps[0]!);
          f.tee(s).v128Store(0, 2);
          flush();
        });
        tail(() => {
          tailLoad();
          f.get(maxv).f32x4Sub().set(x[0]!);
          emitExp(f, c, x[0]!, temps[0]!);
          f.set(s);
          flush();
          f.get(d).get(s).f32x4ExtractLane(0).f32Store(0);
          f.get(rem).i32Const(2).i32GeU().if_(() => f.get(d).get(s).f32x4ExtractLane(1).f32Store(4));
          f.get(rem).i32Const(3).i32GeU().if_(() => f.get(d).get(s).f32x4ExtractLane(2).f32Store(8));
        });
        f.get(accLo).get(accHi).f64x2Add().set(accLo);
        f.get(accLo).f64x2ExtractLane(0).get(accLo).f64x2ExtractLane(1).f64Add().set(sum);
        f.f64Const(1).get(sum);
        f.f64Div();
        f.f32DemoteF64();
        f.set(inv);

        // ---- dst ·= 1/sum
        f.get(inv).f32x4Splat().set(maxv);
        rowStart();
        stride(16, () => {
          f.get(d).get(d).v128Load(0, 2).get(maxv).f32x4Mul().v128Store(0, 2);
        });
        f.block(() => {
          f.loop(() => {
            f.get(q).get(end).i32GeU().brIf(1);
            f.get(d).get(d).f32Load().get(inv).f32Mul().f32Store();
            f.get(q).i32Const(4).i32Add().set(q);
            f.get(d).i32Const(4).i32Add().set(d);
            f.br(0);
          });
        });
      },
    );
    f.get(end).set(p);
  });
  f.get(ok);
  return f;
}

/** softmaxRowsFlagged(src, dst, rows, width, flag): softmaxRows, storing i32 0 at flag if it returns 0. */
function flaggedFunction(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32]);
  const [src, dst, rows, width, flag] = f.params;
  f.get(src).get(dst).get(rows).get(width).call(0).i32Eqz().if_(() => f.get(flag).i32Const(0).i32Store());
  return f;
}

/** Generates the module bytes. */
export function generateSoftmaxModule(options: SoftmaxKernelOptions = {}): Uint8Array<ArrayBuffer> {
  const shared = options.sharedMemory ?? false;
  return encodeModule({
    memory: { module: "env", name: "memory", minPages: 0, ...(shared ? { maxPages: 65536, shared: true } : {}) },
    functions: [softmaxFunction(), flaggedFunction()],
    exports: { softmaxRows: 0, softmaxRowsFlagged: 1 },
  });
}
