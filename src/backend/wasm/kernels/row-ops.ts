/**
 * Emitters for kernels that walk rows whose length is only known at run time (d_head, keys,
 * d_model): f32x4 over the multiple-of-4 part, then a scalar tail. Pointers are byte addresses.
 */
import { FunctionBuilder, ValType, type Local } from "../assembler/wasm-writer.ts";

const { i32, v128 } = ValType;

/** Emitters over a row of `n` floats at run time (n in a local): vector body and scalar tail. */
export class RowOps {
  private readonly off: Local;
  private readonly vecEnd: Local;
  private readonly end: Local;
  private readonly acc: Local;
  private readonly w4: Local;

  constructor(private readonly f: FunctionBuilder, private readonly n: Local) {
    this.off = f.local(i32);
    this.vecEnd = f.local(i32);
    this.end = f.local(i32);
    this.acc = f.local(v128);
    this.w4 = f.local(v128);
  }

  /** Sets the byte bounds once per call (n fixed). */
  init(): void {
    const { f, n } = this;
    f.get(n).i32Const(2).i32Shl().set(this.end);
    f.get(n).i32Const(-4).i32And().i32Const(2).i32Shl().set(this.vecEnd);
  }

  /** The byte offset into the row inside {@link each}'s bodies. */
  get offset(): Local {
    return this.off;
  }

  /** Runs `vector` at each 16-byte step of the row, then `scalar` at each 4-byte step of its tail. */
  each(vector: () => void, scalar: () => void): void {
    const { f, off } = this;
    f.forRange(off, () => f.i32Const(0), () => f.get(this.vecEnd), 16, vector);
    f.forRange(off, () => f.get(this.vecEnd), () => f.get(this.end), 4, scalar);
  }

  /** dst[e] = 0. */
  zero(dst: Local): void {
    const { f, off } = this;
    this.each(
      () => void f.get(dst).get(off).i32Add().v128ConstI32x4([0, 0, 0, 0]).v128Store(0, 2),
      () => void f.get(dst).get(off).i32Add().f32Const(0).f32Store(),
    );
  }

  /** dst[e] += w·src[e] (w an f32 local). */
  axpy(dst: Local, src: Local, w: Local): void {
    const { f, off } = this;
    f.get(w).f32x4Splat().set(this.w4);
    this.each(
      () => {
        f.get(dst).get(off).i32Add();
        f.get(dst).get(off).i32Add().v128Load(0, 2).get(src).get(off).i32Add().v128Load(0, 2).get(this.w4).f32x4Mul().f32x4Add();
        f.v128Store(0, 2);
      },
      () => {
        f.get(dst).get(off).i32Add();
        f.get(dst).get(off).i32Add().f32Load().get(src).get(off).i32Add().f32Load().get(w).f32Mul().f32Add();
        f.f32Store();
      },
    );
  }

  /** Pushes Σ_e a[e]·b[e] (f32). */
  dot(a: Local, b: Local, out: Local): void {
    const { f, off, acc } = this;
    f.v128ConstI32x4([0, 0, 0, 0]).set(acc);
    f.f32Const(0).set(out);
    this.each(
      () => void f.get(acc).get(a).get(off).i32Add().v128Load(0, 2).get(b).get(off).i32Add().v128Load(0, 2).f32x4Mul().f32x4Add().set(acc),
      () => void f.get(out).get(a).get(off).i32Add().f32Load().get(b).get(off).i32Add().f32Load().f32Mul().f32Add().set(out),
    );
    f.get(acc).f32x4ExtractLane(0).get(acc).f32x4ExtractLane(1).f32Add();
    f.get(acc).f32x4ExtractLane(2).get(acc).f32x4ExtractLane(3).f32Add().f32Add();
    f.get(out).f32Add();
  }

  /** Pushes Σ_e a[e] (f32). */
  sum(a: Local, out: Local): void {
    const { f, off, acc } = this;
    f.v128ConstI32x4([0, 0, 0, 0]).set(acc);
    f.f32Const(0).set(out);
    this.each(
      () => void f.get(acc).get(a).get(off).i32Add().v128Load(0, 2).f32x4Add().set(acc),
      () => void f.get(out).get(a).get(off).i32Add().f32Load().f32Add().set(out),
    );
    f.get(acc).f32x4ExtractLane(0).get(acc).f32x4ExtractLane(1).f32Add();
    f.get(acc).f32x4ExtractLane(2).get(acc).f32x4ExtractLane(3).f32Add().f32Add();
    f.get(out).f32Add();
  }
}
