/**
 * Generates a WebAssembly SIMD128 module for the three steps of a LayerNorm's backward (TransformerLens's
 * hook points between them: see src/gpt2/backward/layer-norm-backward.ts), over `rows` rows of
 * `width` floats. Exports (byte addresses into the imported memory "env"."memory", 4-byte aligned):
 *
 * - `affineBackward(dOut, dst, rows, width, weight)`: dst = dOut ⊙ weight per row (dst may be dOut).
 * - `scaleBackward(dNormalized, normalized, scale, dst, rows, width)`: dst[r] = −(dn_r·n_r)/scale[r].
 * - `inputBackward(dNormalized, dScale, normalized, scale, dst, rows, width)`:
 *   dst = (dn − mean(dn))/scale[r] + (dScale[r]/width)·n per row (dst may be dNormalized).
 *
 * Float32 arithmetic; sums accumulate in four lanes, then across them.
 */
import { FunctionBuilder, ValType, encodeModule } from "../assembler/wasm-writer.ts";
import { RowOps } from "./row-ops.ts";

const { i32, f32, v128 } = ValType;

export interface LayerNormBackwardKernelOptions {
  /** Import a shared memory (must match the memory you link against). */
  sharedMemory?: boolean;
}

export interface LayerNormBackwardExports {
  affineBackward(dOut: number, dst: number, rows: number, width: number, weight: number): void;
  scaleBackward(dNormalized: number, normalized: number, scale: number, dst: number, rows: number, width: number): void;
  inputBackward(dNormalized: number, dScale: number, normalized: number, scale: number, dst: number, rows: number, width: number): void;
}

/** `body(rowByteOffset)` for each row r < rows (row byte offset r·width·4 in a local). */
function forRows(f: FunctionBuilder, rows: ReturnType<FunctionBuilder["local"]>, width: ReturnType<FunctionBuilder["local"]>,
  body: (row: ReturnType<FunctionBuilder["local"]>, rowBytes: ReturnType<FunctionBuilder["local"]>) => void): void {
  const row = f.local(i32);
  const rowBytes = f.local(i32);
  f.forRange(row, () => f.i32Const(0), () => f.get(rows), 1, () => {
    f.get(row).get(width).i32Mul().i32Const(2).i32Shl().set(rowBytes);
    body(row, rowBytes);
  });
}

function affineBackward(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32]);
  const [dOut, dst, rows, width, weight] = f.params;
  const ops = new RowOps(f, width);
  const [src, out] = [f.local(i32), f.local(i32)];
  const off = ops.offset;
  ops.init();
  forRows(f, rows, width, (_, rowBytes) => {
    f.get(dOut).get(rowBytes).i32Add().set(src);
    f.get(dst).get(rowBytes).i32Add().set(out);
    ops.each(
      () => void f.get(out).get(off).i32Add().get(src).get(off).i32Add().v128Load(0, 2).get(weight).get(off).i32Add().v128Load(0, 2).f32x4Mul().v128Store(0, 2),
      () => void f.get(out).get(off).i32Add().get(src).get(off).i32Add().f32Load().get(weight).get(off).i32Add().f32Load().f32Mul().f32Store(),
    );
  });
  return f;
}

function scaleBackward(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32]);
  const [dn, n, scale, dst, rows, width] = f.params;
  const ops = new RowOps(f, width);
  const [a, b] = [f.local(i32), f.local(i32)];
  const acc = f.local(f32);
  ops.init();
  forRows(f, rows, width, (row, rowBytes) => {
    f.get(dn).get(rowBytes).i32Add().set(a);
    f.get(n).get(rowBytes).i32Add().set(b);
    f.get(dst).get(row).i32Const(2).i32Shl().i32Add();
    ops.dot(a, b, acc);
    f.get(scale).get(row).i32Const(2).i32Shl().i32Add().f32Load().f32Div();
    f.f32Const(-1).f32Mul();
    f.f32Store();
  });
  return f;
}

function inputBackward(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32]);
  const [dn, dScale, n, scale, dst, rows, width] = f.params;
  const ops = new RowOps(f, width);
  const [a, b, out] = [f.local(i32), f.local(i32), f.local(i32)];
  const [mean, inv, via, tmp] = [f.local(f32), f.local(f32), f.local(f32), f.local(f32)];
  const [mean4, inv4, via4] = [f.local(v128), f.local(v128), f.local(v128)];
  const off = ops.offset;
  ops.init();
  forRows(f, rows, width, (row, rowBytes) => {
    f.get(dn).get(rowBytes).i32Add().set(a);
    f.get(n).get(rowBytes).i32Add().set(b);
    f.get(dst).get(rowBytes).i32Add().set(out);
    ops.sum(a, tmp);
    f.get(width).f64ConvertI32U().f32DemoteF64().f32Div().tee(mean).f32x4Splat().set(mean4);
    f.f32Const(1).get(scale).get(row).i32Const(2).i32Shl().i32Add().f32Load().f32Div().tee(inv).f32x4Splat().set(inv4);
    f.get(dScale).get(row).i32Const(2).i32Shl().i32Add().f32Load().get(width).f64ConvertI32U().f32DemoteF64().f32Div().tee(via).f32x4Splat().set(via4);
    ops.each(
      () => {
        f.get(out).get(off).i32Add();
        f.get(a).get(off).i32Add().v128Load(0, 2).get(mean4).f32x4Sub().get(inv4).f32x4Mul();
        f.get(b).get(off).i32Add().v128Load(0, 2).get(via4).f32x4Mul().f32x4Add();
        f.v128Store(0, 2);
      },
      () => {
        f.get(out).get(off).i32Add();
        f.get(a).get(off).i32Add().f32Load().get(mean).f32Sub().get(inv).f32Mul();
        f.get(b).get(off).i32Add().f32Load().get(via).f32Mul().f32Add();
        f.f32Store();
      },
    );
  });
  return f;
}

/** Generates the module bytes. */
export function generateLayerNormBackwardModule(options: LayerNormBackwardKernelOptions = {}): Uint8Array<ArrayBuffer> {
  const shared = options.sharedMemory ?? false;
  return encodeModule({
    memory: { module: "env", name: "memory", minPages: 0, ...(shared ? { maxPages: 65536, shared: true } : {}) },
    functions: [affineBackward(), scaleBackward(), inputBackward()],
    exports: { affineBackward: 0, scaleBackward: 1, inputBackward: 2 },
  });
}
