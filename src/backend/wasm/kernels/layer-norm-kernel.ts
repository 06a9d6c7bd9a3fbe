/**
 * Generates a WebAssembly SIMD128 module for GPT-2's LayerNorm on float32 rows, with the float64
 * arithmetic of src/tensor/layer-norm.ts: every float is widened (two f64x2 halves per f32x4), the
 * mean and the two-pass variance are summed in float64 (four f64x2 accumulators instead of one
 * sequential sum — the only difference), and each output is one f64 → f32 rounding of the same
 * f64 expression. So results equal the plain TypeScript up to the summation order of the mean and
 * variance (in practice bit-identical or 1 ulp), also for rows with a large common offset.
 *
 * Exports (byte addresses into the imported memory "env"."memory"; f32 data 4-byte aligned):
 * - `normalizeRows(src, dst, scale, rows, width, eps, mode)`: per row of `width` ≥ 1 floats,
 *   mean = Σx/width; with mode bit 1, scale[r] = f32(√(Σ(x − mean)²/width + eps)); with mode
 *   bit 2, dst[j] = f32((x[j] − mean)·(1/scale[r])) (scale read back as f32). dst may equal src.
 * - `affineRows(src, dst, rows, width, weight, bias)`: dst[j] = f32(src[j]·weight[j] + bias[j]),
 *   `weight` and `bias` float64 arrays of `width` (8-byte aligned). dst may equal src.
 */
import { FunctionBuilder, ValType, encodeModule, type Local } from "../assembler/wasm-writer.ts";

const { i32, f64, v128 } = ValType;

export interface LayerNormKernelOptions {
  /** Import a shared memory (must match the memory you link against). */
  sharedMemory?: boolean;
}

export interface LayerNormExports {
  normalizeRows(src: number, dst: number, scale: number, rows: number, width: number, eps: number, mode: number): void;
  affineRows(src: number, dst: number, rows: number, width: number, weight: number, bias: number): void;
}

export const LN_SCALE = 1;
export const LN_NORMALIZE = 2;

/** Byte shuffle: the high 8 bytes of a vector moved to the low half. */
const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
/** Byte shuffle: low f32 pair of a ‖ low f32 pair of b. */
const LOW_PAIRS = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** Row loops over a cursor `q` (and `d`, advanced alike) up to `end`. */
class RowLoops {
  constructor(
    private readonly f: FunctionBuilder,
    private readonly q: Local,
    private readonly end: Local,
    private readonly also: readonly Local[] = [],
  ) {}

  /** while (q + bytes ≤ end) { body(); advance by bytes } */
  stride(bytes: number, body: () => void): void {
    const { f, q, end } = this;
    f.block(() => {
      f.loop(() => {
        f.get(q).i32Const(bytes).i32Add().get(end).i32GtU().brIf(1);
        body();
        this.advance(bytes);
        f.br(0);
      });
    });
  }

  /** while (q < end) { body(); advance by 4 } */
  scalars(body: () => void): void {
    const { f, q, end } = this;
    f.block(() => {
      f.loop(() => {
        f.get(q).get(end).i32GeU().brIf(1);
        body();
        this.advance(4);
        f.br(0);
      });
    });
  }

  private advance(bytes: number): void {
    for (const l of [this.q, ...this.also]) this.f.get(l).i32Const(bytes).i32Add().set(l);
  }
}

/** Pushes the f64x2 of lanes 0–1 (half 0) or 2–3 (half 1) of the f32x4 in `v`. */
function widen(f: FunctionBuilder, v: Local, half: 0 | 1): void {
  f.get(v);
  if (half === 1) f.get(v).i8x16Shuffle(HIGH_TO_LOW);
  f.f64x2PromoteLowF32x4();
}

function normalizeFunction(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, f64, i32]);
  const [src, dst, scale, rows, width, eps, mode] = f.params as [Local, Local, Local, Local, Local, Local, Local];
  const row = f.local(i32);
  const p = f.local(i32);
  const q = f.local(i32);
  const d = f.local(i32);
  const end = f.local(i32);
  const sp = f.local(i32);
  const n = f.local(f64);
  const mean = f.local(f64);
  const tail = f.local(f64);
  const t = f.local(f64);
  const meanv = f.local(v128);
  const invv = f.local(v128);
  const x = [f.local(v128), f.local(v128)];
  const acc = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const lo = f.local(v128);
  const loops = new RowLoops(f, q, end, [d]);

  /** t = Σ term(x) over the row at p: four f64x2 accumulators, scalar tail summed apart. */
  const rowSum = (term: (push: () => void) => void, scalarTerm: () => void): void => {
    for (const a of acc) f.v128ConstI32x4([0, 0, 0, 0]).set(a);
    f.f64Const(0).set(tail);
    f.get(p).set(q);
    loops.stride(32, () => {
      f.get(q).v128Load(0, 2).set(x[0]!);
      f.get(q).v128Load(16, 2).set(x[1]!);
      for (let k = 0; k < 4; k++) {
        f.get(acc[k]!);
        term(() => widen(f, x[k >> 1]!, (k & 1) as 0 | 1));
        f.f64x2Add().set(acc[k]!);
      }
    });
    loops.stride(16, () => {
      f.get(q).v128Load(0, 2).set(x[0]!);
      for (let k = 0; k < 2; k++) {
        f.get(acc[k]!);
        term(() => widen(f, x[0]!, k as 0 | 1));
        f.f64x2Add().set(acc[k]!);
      }
    });
    loops.scalars(() => {
      f.get(tail);
      scalarTerm();
      f.f64Add().set(tail);
    });
    f.get(acc[0]!).get(acc[2]!).f64x2Add().get(acc[1]!).get(acc[3]!).f64x2Add().f64x2Add().set(x[0]!);
    f.get(x[0]!).f64x2ExtractLane(0).get(x[0]!).f64x2ExtractLane(1).f64Add().get(tail).f64Add().set(t);
  };

  f.get(width).f64ConvertI32U().set(n);
  f.get(src).set(p);
  f.get(scale).set(sp);
  f.forRange(row, () => f.i32Const(0), () => f.get(rows), 1, () => {
    f.get(p).get(width).i32Const(2).i32Shl().i32Add().set(end);
    f.get(dst).get(p).i32Add().get(src).i32Sub().set(d);

    rowSum((push) => push(), () => f.get(q).f32Load().f64PromoteF32());
    f.get(t).get(n).f64Div().tee(mean).f64x2Splat().set(meanv);

    f.get(mode).i32Const(LN_SCALE).i32And().if_(() => {
      rowSum(
        (push) => {
          push();
          f.get(meanv).f64x2Sub().tee(lo).get(lo).f64x2Mul();
        },
        () => {
          f.get(q).f32Load().f64PromoteF32().get(mean).f64Sub().tee(t).get(t).f64Mul();
        },
      );
      f.get(sp).get(t).get(n).f64Div().get(eps).f64Add().f64Sqrt().f32DemoteF64().f32Store();
    });

    f.get(mode).i32Const(LN_NORMALIZE).i32And().if_(() => {
      f.f64Const(1).get(sp).f32Load().f64PromoteF32().f64Div().f64x2Splat().set(invv);
      f.get(dst).get(p).i32Add().get(src).i32Sub().set(d);
      f.get(p).set(q);
      loops.stride(16, () => {
        f.get(q).v128Load(0, 2).set(x[0]!);
        f.get(d);
        for (const half of [0, 1] as const) {
          widen(f, x[0]!, half);
          f.get(meanv).f64x2Sub().get(invv).f64x2Mul().f32x4DemoteF64x2Zero();
        }
        f.i8x16Shuffle(LOW_PAIRS).v128Store(0, 2);
      });
      loops.scalars(() => {
        f.get(d).get(q).f32Load().f64PromoteF32().get(mean).f64Sub().get(invv).f64x2ExtractLane(0).f64Mul().f32DemoteF64().f32Store();
      });
    });
    f.get(end).set(p);
    f.get(sp).i32Const(4).i32Add().set(sp);
  });
  return f;
}

function affineFunction(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32]);
  const [src, dst, rows, width, weight, bias] = f.params as [Local, Local, Local, Local, Local, Local];
  const row = f.local(i32);
  const q = f.local(i32);
  const d = f.local(i32);
  const w = f.local(i32);
  const b = f.local(i32);
  const end = f.local(i32);
  const x = f.local(v128);
  const loops = new RowLoops(f, q, end, [d]);
  const step = (bytes: number): void => {
    for (const l of [w, b]) f.get(l).i32Const(bytes).i32Add().set(l);
  };

  f.get(src).set(q);
  f.get(dst).set(d);
  f.forRange(row, () => f.i32Const(0), () => f.get(rows), 1, () => {
    f.get(q).get(width).i32Const(2).i32Shl().i32Add().set(end);
    f.get(weight).set(w);
    f.get(bias).set(b);
    loops.stride(16, () => {
      f.get(q).v128Load(0, 2).set(x);
      f.get(d);
      for (const half of [0, 1] as const) {
        widen(f, x, half);
        f.get(w).v128Load(16 * half, 3).f64x2Mul().get(b).v128Load(16 * half, 3).f64x2Add().f32x4DemoteF64x2Zero();
      }
      f.i8x16Shuffle(LOW_PAIRS).v128Store(0, 2);
      step(32);
    });
    loops.scalars(() => {
      f.get(d).get(q).f32Load().f64PromoteF32().get(w).f64Load().f64Mul().get(b).f64Load().f64Add().f32DemoteF64().f32Store();
      step(8);
    });
  });
  return f;
}

/** Generates the module bytes. */
export function generateLayerNormModule(options: LayerNormKernelOptions = {}): Uint8Array<ArrayBuffer> {
  const shared = options.sharedMemory ?? false;
  return encodeModule({
    memory: { module: "env", name: "memory", minPages: 0, ...(shared ? { maxPages: 65536, shared: true } : {}) },
    functions: [normalizeFunction(), affineFunction()],
    exports: { normalizeRows: 0, affineRows: 1 },
  });
}
