/**
 * The run-time-generated WebAssembly SIMD GEMM against the plain-TS reference: random shapes
 * (remainders in every dimension), bias/accumulate/transposed packing, several kernel tilings
 * (small k and row blocks exercise k-blocking and row-blocking), memory growth, shared memory, the
 * row/panel range export, and the allocator.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Gpt2LensError, InputError } from "../../../src/errors.ts";
import {
  GEMM_FLAG_ACCUMULATE,
  generateGemmModule,
  maxRowBlock,
  packedLength,
  panelCount,
  rowBlockRows,
  scratchFloats,
} from "../../../src/backend/wasm/kernels/gemm-kernel.ts";
import { matmulReference } from "../../helpers/reference-matmul.ts";
import { instantiateGemmKernel } from "../../../src/backend/wasm/gemm/gemm-instance.ts";
import { wasmRelaxedSimdSupported } from "../../../src/backend/wasm/simd-support.ts";
import { MAX_STRIP_BYTES, MIN_SPARE_STRIP_COLUMNS, stagingStripColumns } from "../../../src/backend/wasm/gemm/staging.ts";
import type { WasmMemory } from "../../../src/backend/wasm/wasm-api.ts";
import { WasmGemm, type WasmGemmOptions } from "../../../src/backend/wasm/gemm/wasm-gemm.ts";
import { FunctionBuilder, ValType, encodeModule, sleb, uleb } from "../../../src/backend/wasm/assembler/wasm-writer.ts";
import { type Case, caseArb, caseOperands, data, relErr, transpose } from "../../helpers/gemm.ts";
import { propertyParams } from "../../helpers/property.ts";

/** The WebAssembly JS API, typed locally (the project builds without DOM lib types). */
const WA = (globalThis as unknown as {
  WebAssembly: {
    Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
    Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
    Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
    validate(bytes: Uint8Array<ArrayBuffer>): boolean;
  };
}).WebAssembly;

function mustCreate(options?: WasmGemmOptions): WasmGemm {
  const g = WasmGemm.create(options);
  if (g === null) throw new Error("WasmGemm.create() returned null");
  return g;
}

/** Runs one case through `gemm` and the reference; returns the relative error. */
function runCase(gemm: WasmGemm, c: Case): number {
  const { a, b, bias, initial, expected, scale } = caseOperands(c);

  const packed = c.transposed ? gemm.packTransposed(transpose(b, c.k, c.n), c.n, c.k) : gemm.pack(b, c.k, c.n);
  const out = c.accumulate ? initial.slice() : new Float32Array(c.m * c.n).fill(Number.NaN);
  gemm.matmul(a, c.m, packed, out, bias, c.accumulate);
  gemm.free(packed.buffer);
  return relErr(out, expected, scale);
}

/** True if x and y have the same length and bit patterns. */
function bitsEqual(x: Float32Array, y: Float32Array): boolean {
  if (x.length !== y.length) return false;
  const xb = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const yb = new Uint32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0; i < xb.length; i++) if (xb[i] !== yb[i]) return false;
  return true;
}

describe("WasmGemm", () => {
  it("is available in this engine", () => {
    expect(WasmGemm.isSupported()).toBe(true);
    expect(WasmGemm.create()).not.toBeNull();
    // vitest.config.ts gives Node 20 the relaxed-SIMD flag: the default kernel fuses multiply-adds.
    expect(wasmRelaxedSimdSupported()).toBe(true);
    const byDefault = mustCreate();
    expect(byDefault.relaxedSimd).toBe(true);
    expect(byDefault.layout).toMatchObject({ mr: 6, nr: 8 });
    const plain = mustCreate({ relaxedSimd: false });
    expect(plain.relaxedSimd).toBe(false);
    expect(plain.layout).toMatchObject({ mr: 4, nr: 8 });
    for (const gemm of [byDefault, plain]) {
      expect(runCase(gemm, { m: 17, k: 33, n: 19, seed: 3, bias: true, accumulate: true, transposed: false })).toBeLessThan(1e-5);
    }
  });

  it("fuses multiply-adds only in the relaxed kernel (one rounding per product instead of two)", () => {
    // The k sum runs in order: -(1 + 2^-11), then + (1 + 2^-12)², which is 1 + 2^-11 + 2^-24 exactly.
    // A separate multiply rounds the 2^-24 away (ties to even); a fused multiply-add keeps it. On a
    // CPU without FMA, relaxed_madd may round twice, so only the plain kernel's 0 is exact.
    const x = 1 + 2 ** -12;
    const products = [true, false].map((relaxedSimd) => {
      const gemm = mustCreate({ relaxedSimd });
      const packed = gemm.pack(Float32Array.of(1, x), 2, 1);
      const out = new Float32Array(1);
      gemm.matmul(Float32Array.of(-(1 + 2 ** -11), x), 1, packed, out);
      return out[0]!;
    });
    expect(products[1]).toBe(0);
    expect([0, 2 ** -24]).toContain(products[0]);
  });

  // Default tiling, plus tilings whose tiny k and row blocks force k-blocking (accumulation over
  // several k passes) and row-blocking on small shapes, and odd register tiles.
  const tilings: [string, WasmGemmOptions["kernel"], boolean?][] = [
    ["default 6x8 FMA", undefined],
    ["default 4x8 without FMA", undefined, false],
    ["6x8 without FMA, kc=7, mc=9", { mr: 6, kc: 7, mc: 9 }, false],
    ["4x8, kc=7, mc=9", { kc: 7, mc: 9 }],
    ["3x12, kc=16, mc=6, unroll=3", { mr: 3, vectors: 3, kc: 16, mc: 6, unroll: 3 }],
    ["1x4, kc=5", { mr: 1, vectors: 1, kc: 5, mc: 1, prefetch: false }],
    ["6x8, unroll=2", { mr: 6, vectors: 2, unroll: 2 }],
    ["4x8, A splats by shuffle, kc=7, mc=9", { splatFromVector: true, kc: 7, mc: 9 }],
    ["3x12, A splats by shuffle, unroll=2", { mr: 3, vectors: 3, unroll: 2, splatFromVector: true }],
    ["4x8, no shuffle splats", { splatFromVector: false }],
    // Shuffle splats of more than 4 rows: a second load for rows 4.. (load32_splat for 5 rows,
    // load64_zero for 6, v128 for 7 and 8), with and without FMA.
    ["5x8, A splats by shuffle, kc=7, mc=11", { mr: 5, splatFromVector: true, kc: 7, mc: 11 }],
    ["5x8 without FMA, A splats by shuffle, kc=9, mc=10", { mr: 5, splatFromVector: true, kc: 9, mc: 10 }, false],
    ["6x8, A splats by shuffle, kc=7, mc=13", { mr: 6, splatFromVector: true, kc: 7, mc: 13 }],
    ["6x8 without FMA, A splats by shuffle, kc=5, mc=12", { mr: 6, splatFromVector: true, kc: 5, mc: 12 }, false],
    ["7x8, A splats by shuffle, kc=6, mc=14", { mr: 7, splatFromVector: true, kc: 6, mc: 14 }],
    ["8x8, A splats by shuffle, kc=7, mc=17", { mr: 8, splatFromVector: true, kc: 7, mc: 17 }],
    ["8x8 without FMA, A splats by shuffle, kc=8, mc=16", { mr: 8, splatFromVector: true, kc: 8, mc: 16 }, false],
  ];
  for (const [label, kernel, relaxedSimd] of tilings) {
    it(`matches the reference on random shapes 1..70 (${label})`, () => {
      const gemm = mustCreate({ kernel, relaxedSimd });
      fc.assert(
        fc.property(caseArb(70), (c) => {
          expect(runCase(gemm, c)).toBeLessThan(1e-5);
        }),
        propertyParams(`random shapes ${label}`, label.startsWith("default") ? 150 : 40),
      );
    });
  }

  it("gives bit-identical results with shuffle splats and load32 splats (same tile, same FMA setting)", () => {
    // Only the way A is broadcast differs: every product and sum is the same operation in the same order.
    for (const relaxedSimd of [true, false]) {
      for (let mr = 1; mr <= 8; mr++) {
        const tiling = { mr, kc: 11, mc: 3 * mr };
        const gemms = [true, false].map((splatFromVector) => mustCreate({ relaxedSimd, kernel: { ...tiling, splatFromVector } }));
        fc.assert(
          fc.property(caseArb(40), (c) => {
            const { a, b, bias, initial, expected, scale } = caseOperands(c);
            const [shuffled, loaded] = gemms.map((gemm) => {
              const packed = gemm.pack(b, c.k, c.n);
              const out = c.accumulate ? initial.slice() : new Float32Array(c.m * c.n).fill(Number.NaN);
              gemm.matmul(a, c.m, packed, out, bias, c.accumulate);
              gemm.free(packed.buffer);
              return out;
            });
            expect(relErr(shuffled!, expected, scale)).toBeLessThan(1e-5);
            expect(bitsEqual(shuffled!, loaded!), `mr=${mr} relaxed=${relaxedSimd} ${JSON.stringify(c)}`).toBe(true);
          }),
          propertyParams(`splats mr=${mr} relaxed=${relaxedSimd}`, 15),
        );
      }
    }
  });

  it("keeps shuffle-splat reads of packed A inside the scratch, even at the end of memory", () => {
    // A row block that fills the scratch exactly, placed so the scratch ends where the memory ends.
    // Tiles of 3 or 7 rows read one float past the packed A block (a v128 load of the last 3 rows at
    // the last k step): scratchFloats leaves room for it. Without that slack, they trap.
    const [k, n] = [13, 19];
    for (let mr = 1; mr <= 8; mr++) {
      const mc = 2 * mr;
      const m = mc;
      const a = data(m * k, mr);
      const b = data(k * n, mr + 1);
      const expected = new Float32Array(m * n);
      matmulReference(a, m, k, b, n, expected);
      const memory = new WA.Memory({ initial: 1 });
      const kernel = instantiateGemmKernel(memory, { mr, mc, splatFromVector: true });
      expect(kernel).not.toBeNull();
      const { exports, layout } = kernel!;
      const { nr } = layout;
      const f32 = new Float32Array(memory.buffer);
      const aPtr = 64;
      const bPtr = aPtr + 4 * m * k;
      const cPtr = bPtr + 4 * packedLength(k, n, nr);
      f32.set(a, aPtr / 4);
      for (let p = 0; p < panelCount(n, nr); p++) {
        for (let kk = 0; kk < k; kk++) {
          for (let j = 0; j < nr; j++) f32[bPtr / 4 + (p * k + kk) * nr + j] = p * nr + j < n ? b[kk * n + p * nr + j]! : 0;
        }
      }
      const floats = scratchFloats(layout, k);
      const used = mr * nr + mc * k; // edge tile + packed A block
      expect(floats).toBeGreaterThanOrEqual(used);
      const end = memory.buffer.byteLength;
      const run = (scratchPtr: number): void => exports.gemm(aPtr, bPtr, cPtr, 0, m, n, k, 0, scratchPtr, mc);
      run(end - 4 * floats);
      expect(relErr(new Float32Array(memory.buffer, cPtr, m * n), expected), `mr=${mr}`).toBeLessThan(1e-5);
      if (mr % 4 === 3) expect(() => run(end - 4 * used), `mr=${mr}`).toThrow(/out of bounds/);
      else run(end - 4 * used);
    }
  });

  it("matches the reference on larger shapes", () => {
    const gemm = mustCreate();
    const shapes: [number, number, number][] = [
      [130, 300, 257],
      [13, 768, 1001],
      [97, 1100, 45],
      [64, 64, 64],
      [49, 5000, 9], // k above the default k block (4096)
    ];
    let seed = 7;
    for (const [m, k, n] of shapes) {
      for (const bias of [false, true]) {
        for (const accumulate of [false, true]) {
          const err = runCase(gemm, { m, k, n, seed: seed++, bias, accumulate, transposed: seed % 2 === 0 });
          expect(err, `${m}x${k}x${n} bias=${bias} acc=${accumulate}`).toBeLessThan(1e-5);
        }
      }
    }
  });

  it("handles empty dimensions", () => {
    const gemm = mustCreate();
    // k = 0: out = bias (or out + bias when accumulating).
    const packed = gemm.pack(new Float32Array(0), 0, 5);
    const bias = Float32Array.of(1, 2, 3, 4, 5);
    const out = new Float32Array(10).fill(Number.NaN);
    gemm.matmul(new Float32Array(0), 2, packed, out, bias);
    expect([...out]).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
    gemm.matmul(new Float32Array(0), 2, packed, out, bias, true);
    expect([...out]).toEqual([2, 4, 6, 8, 10, 2, 4, 6, 8, 10]);
    const zeros = new Float32Array(10).fill(7);
    gemm.matmul(new Float32Array(0), 2, packed, zeros);
    expect([...zeros]).toEqual(new Array(10).fill(0));
    // m = 0 and n = 0 are no-ops.
    gemm.matmul(new Float32Array(0), 0, packed, new Float32Array(0));
    const p0 = gemm.pack(new Float32Array(0), 3, 0);
    gemm.matmul(new Float32Array(6), 2, p0, new Float32Array(0));
  });

  it("keeps results right when memory grows mid-use (pointers stable, views refreshed)", () => {
    const gemm = mustCreate();
    const [m, k, n] = [21, 33, 29];
    const a = data(m * k, 1);
    const b = data(k * n, 2);
    const expected = new Float32Array(m * n);
    matmulReference(a, m, k, b, n, expected);

    const packed = gemm.pack(b, k, n);
    const aBuf = gemm.alloc(m * k);
    aBuf.view().set(a);
    const outBuf = gemm.alloc(m * n);
    const staleView = outBuf.view();
    const bytesBefore = gemm.memory.buffer.byteLength;

    // Force several growths.
    const big = gemm.alloc(bytesBefore); // 4x the current memory
    const big2 = gemm.alloc(3 << 20);
    expect(gemm.memory.buffer.byteLength).toBeGreaterThan(bytesBefore * 4);
    expect(staleView.length).toBe(0); // a plain memory's old views are detached by growth ...
    expect(outBuf.view().length).toBe(m * n); // ... view() makes a fresh one
    expect(aBuf.view()).toEqual(a); // contents survive growth

    // In-memory operands are used in place.
    gemm.matmul(aBuf.view(), m, packed, outBuf.view());
    expect(relErr(outBuf.view(), expected)).toBeLessThan(1e-5);

    // Growth between pack() and matmul() of ordinary arrays.
    gemm.free(big);
    gemm.free(big2);
    gemm.alloc(16 << 20);
    const out = new Float32Array(m * n);
    gemm.matmul(a, m, packed, out);
    expect(relErr(out, expected)).toBeLessThan(1e-5);

    // A staging copy inside matmul can grow memory while `out` is a view: the result is still in
    // the buffer (read it back through view()).
    const fresh = mustCreate();
    const freshPacked = fresh.pack(b, k, n);
    const bigM = 6000;
    const hugeA = data(bigM * k, 3);
    const hugeOut = fresh.alloc(bigM * n);
    const outView = hugeOut.view();
    const before = fresh.memory.buffer.byteLength;
    const hugeExpected = new Float32Array(bigM * n);
    matmulReference(hugeA, bigM, k, b, n, hugeExpected);
    fresh.matmul(hugeA, bigM, freshPacked, outView);
    expect(fresh.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(outView.length).toBe(0);
    expect(relErr(hugeOut.view(), hugeExpected)).toBeLessThan(1e-5);
  });

  it("copies an input that overlaps the output view", () => {
    const gemm = mustCreate();
    const n = 6;
    const k = 6;
    const m = 5;
    const b = data(k * n, 4);
    const packed = gemm.pack(b, k, n);
    const buf = gemm.alloc(m * k);
    buf.view().set(data(m * k, 5));
    const a = buf.view().slice();
    const expected = new Float32Array(m * n);
    matmulReference(a, m, k, b, n, expected);
    gemm.matmul(buf.view(), m, packed, buf.view()); // in place: out aliases a
    expect(relErr(buf.view(), expected)).toBeLessThan(1e-5);

    // Same, when staging the copy of `a` grows (and detaches) the memory; and pack() from a view
    // whose memory grows while the packed buffer is allocated.
    const fresh = mustCreate({ initialPages: 16 });
    const size = 300;
    const bigB = data(size * size, 6);
    const bView = fresh.alloc(size * size);
    bView.view().set(bigB);
    const bigPacked = fresh.pack(bView.view(), size, size);
    const inPlace = fresh.alloc(size * size);
    inPlace.view().set(data(size * size, 7));
    const bigA = inPlace.view().slice();
    const bigExpected = new Float32Array(size * size);
    matmulReference(bigA, size, size, bigB, size, bigExpected);
    fresh.alloc((fresh.memory.buffer.byteLength - fresh.heapTop) / 4); // fill up: staging must grow
    const before = fresh.memory.buffer.byteLength;
    fresh.matmul(inPlace.view(), size, bigPacked, inPlace.view());
    expect(fresh.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(relErr(inPlace.view(), bigExpected)).toBeLessThan(1e-5);
  });

  it("stages large products in row blocks within the staging budget, bit-identical to one block", () => {
    // Same kernel, staging budgets of 1, 4 and 16 KiB vs the default (every product here in one block).
    // The byte counts below are for the 4-row tile of the kernel without FMA.
    const whole = mustCreate({ relaxedSimd: false });
    const budgets = [1024, 4096, 16384];
    const blocked = budgets.map((stagingBudgetBytes) => mustCreate({ stagingBudgetBytes, relaxedSimd: false }));
    expect(blocked.map((g) => g.stagingBudgetBytes)).toEqual(budgets);
    const run = (gemm: WasmGemm, c: Case, out: Float32Array): void => {
      const { a, b, bias } = caseOperands(c);
      const packed = c.transposed ? gemm.packTransposed(transpose(b, c.k, c.n), c.n, c.k) : gemm.pack(b, c.k, c.n);
      gemm.matmul(a, c.m, packed, out, bias, c.accumulate);
      gemm.free(packed.buffer);
    };
    const check = (c: Case): void => {
      const { initial, expected, scale } = caseOperands(c);
      const fresh = (): Float32Array => (c.accumulate ? initial.slice() : new Float32Array(c.m * c.n).fill(Number.NaN));
      const want = fresh();
      run(whole, c, want);
      expect(relErr(want, expected, scale)).toBeLessThan(1e-5);
      for (const gemm of blocked) {
        const got = fresh();
        run(gemm, c, got);
        expect(bitsEqual(got, want), JSON.stringify(c)).toBe(true);
        // Staging holds at most the budget, unless mr rows alone exceed it.
        const minRows = Math.min(c.m, gemm.layout.mr);
        expect(gemm.stagingBytes).toBeLessThanOrEqual(Math.max(gemm.stagingBudgetBytes, 4 * minRows * (c.k + c.n) + 64));
      }
    };
    fc.assert(fc.property(caseArb(120, 40, 40), check), propertyParams("staging row blocks", 60));
    check({ m: 301, k: 70, n: 90, seed: 5, bias: true, accumulate: true, transposed: false });
    check({ m: 97, k: 4200 >> 4, n: 33, seed: 6, bias: false, accumulate: false, transposed: true });
    const small = blocked[1];
    // 300 rows of 4·(30 + 40) bytes in a 4 KiB budget: blocks of 12 rows (a multiple of mr); the
    // arena is the budget. One huge row (mr rows exceed the budget) borrows more, given back after.
    check({ m: 300, k: 30, n: 40, seed: 7, bias: true, accumulate: false, transposed: false });
    expect(small.stagingBytes).toBe(4096);
    check({ m: 9, k: 300, n: 500, seed: 8, bias: true, accumulate: true, transposed: false });
    expect(small.stagingBytes).toBe(4 * 4 * (300 + 500));
    check({ m: 30, k: 5, n: 7, seed: 9, bias: false, accumulate: true, transposed: false });
    expect(small.stagingBytes).toBe(4096);

    // Only C staged (a used in place), only A staged (out in place), and k above the kernel's k block.
    const [m, k, n] = [150, 4100, 20];
    const a = data(m * k, 8);
    const b = data(k * n, 9);
    const bias = data(n, 10);
    const initial = data(m * n, 11);
    const want = initial.slice();
    whole.matmul(a, m, whole.pack(b, k, n), want, bias, true);
    const gemm = mustCreate({ stagingBudgetBytes: 128 * 1024, relaxedSimd: false });
    const packed = gemm.pack(b, k, n);
    const aBuf = gemm.alloc(m * k);
    aBuf.view().set(a);
    const got = initial.slice();
    gemm.matmul(aBuf.view(), m, packed, got, bias, true);
    expect(bitsEqual(got, want)).toBe(true);
    expect(gemm.stagingBytes).toBeLessThanOrEqual(128 * 1024);
    const outBuf = gemm.alloc(m * n);
    outBuf.view().set(initial);
    gemm.matmul(a, m, packed, outBuf.view(), bias, true);
    expect(bitsEqual(outBuf.view(), want)).toBe(true);
    expect(gemm.stagingBytes).toBeLessThanOrEqual(128 * 1024);
    gemm.releaseStaging();
    expect(gemm.stagingBytes).toBe(0);
    expect(() => WasmGemm.create({ stagingBudgetBytes: 0 })).toThrow(InputError);
  });

  it("stages a wide C in column strips of all rows, bit-identical to row blocks and to one block", () => {
    // 16 KiB budget: C never fits whole; strips of whole panels over all m rows (≤ 60 rows of 8
    // columns fit), A staged whole or used in place, bias and accumulate, a narrower last strip.
    const whole = mustCreate();
    const strips = mustCreate({ stagingBudgetBytes: 16384 });
    const rows = mustCreate({ stagingBudgetBytes: 16384, columnStrips: false });
    // Records the n of every kernel call: a strip's width, or all n for a row block.
    const widths: number[] = [];
    const exports = strips.exports;
    (strips as { exports: unknown }).exports = { ...exports, gemm: (...args: Parameters<typeof exports.gemm>) => {
      widths.push(args[5]);
      exports.gemm(...args);
    } };
    const run = (gemm: WasmGemm, c: Case, aInPlace: boolean): Float32Array => {
      const { a, b, bias, initial } = caseOperands(c);
      const packed = c.transposed ? gemm.packTransposed(transpose(b, c.k, c.n), c.n, c.k) : gemm.pack(b, c.k, c.n);
      const aBuf = aInPlace ? gemm.alloc(c.m * c.k) : undefined;
      aBuf?.view().set(a);
      const out = c.accumulate ? initial.slice() : new Float32Array(c.m * c.n).fill(Number.NaN);
      gemm.matmul(aBuf?.view() ?? a, c.m, packed, out, bias, c.accumulate);
      if (aBuf) gemm.free(aBuf);
      gemm.free(packed.buffer);
      return out;
    };
    const check = (c: Case, aInPlace: boolean): void => {
      const want = run(whole, c, false);
      const { expected, scale } = caseOperands(c);
      expect(relErr(want, expected, scale)).toBeLessThan(1e-5);
      expect(bitsEqual(run(rows, c, aInPlace), want), JSON.stringify(c)).toBe(true);
      expect(bitsEqual(run(strips, c, aInPlace), want), JSON.stringify(c)).toBe(true);
      expect(strips.stagingBytes).toBe(16384);
    };
    fc.assert(fc.property(caseArb(60, 40, 300), fc.boolean(), check), propertyParams("column strips", 60));
    // 50 rows, k 20, n 300 (38 panels of 4·50·8 = 1600 bytes), one strip at a time: A in place,
    // 10 panels fit 16384 − 128 bytes → 4 strips of 10 panels (80 columns), the last 60 wide; A
    // staged (4000 bytes): 7 fit → 6 strips of 7 panels, the last 20 columns wide.
    widths.length = 0;
    check({ m: 50, k: 20, n: 300, seed: 3, bias: true, accumulate: true, transposed: false }, true);
    expect(widths).toEqual([80, 80, 80, 60]);
    widths.length = 0;
    check({ m: 50, k: 20, n: 300, seed: 4, bias: true, accumulate: false, transposed: true }, false);
    expect(widths).toEqual([56, 56, 56, 56, 56, 20]);
  });

  it("stages C through a lent spare buffer instead of the arena, bit-identical", () => {
    // 20 × 4000 in a 16 KiB budget; the largest spare (20 × 2200 floats) holds 275 panels → 2
    // strips of 250. `a` in place, no bias: the arena stays untouched.
    const whole = mustCreate();
    const gemm = mustCreate({ stagingBudgetBytes: 16384 });
    const [m, k, n] = [20, 16, 4000];
    const a = data(m * k, 51);
    const b = data(k * n, 52);
    const bias = data(n, 53);
    const want = new Float32Array(m * n);
    whole.matmul(a, m, whole.pack(b, k, n), want, bias);
    const packed = gemm.pack(b, k, n);
    const aBuf = gemm.alloc(m * k);
    const spares = [gemm.alloc(m * 2100), gemm.alloc(m * 2200), gemm.alloc(m * 100)];
    aBuf.view().set(a);
    const got = new Float32Array(m * n);
    gemm.matmul(aBuf.view(), m, packed, got, bias, false, spares.map((s) => s.view()));
    expect(bitsEqual(got, want)).toBe(true);
    // The bias (n floats) is staged; A and C are not.
    expect(gemm.stagingBytes).toBe(0);
    // A spare too small for MIN_SPARE_STRIP_COLUMNS: the arena's strips instead.
    got.fill(Number.NaN);
    gemm.matmul(aBuf.view(), m, packed, got, bias, false, [spares[2]!.view()]);
    expect(bitsEqual(got, want)).toBe(true);
    expect(gemm.stagingBytes).toBe(16384);
    expect(MIN_SPARE_STRIP_COLUMNS).toBe(1024);
  });

  it("sizes column strips: whole panels, at most MAX_STRIP_BYTES, evenly spread", () => {
    // The GPT-2 logits at 32×13: 416 rows × 8 columns = 13312 bytes per panel, 315 panels of the
    // 6283 in 4 MiB → 20 strips of 315 panels.
    expect(stagingStripColumns(416, 50257, 8, 2, (32 << 20) - 128)).toBe(2520);
    expect(MAX_STRIP_BYTES).toBe(4 << 20);
    // Room for 7 panels each: 38 panels → 6 strips of 7 (not 5 × 7 + 3 … any narrower).
    expect(stagingStripColumns(50, 300, 8, 1, 7 * 1600 + 100)).toBe(56);
    expect(stagingStripColumns(50, 300, 8, 2, 2 * 7 * 1600)).toBe(56);
    // 38 panels, room for 19: 2 strips of 19; room for 20: still 2 strips, of 19.
    expect(stagingStripColumns(50, 300, 8, 1, 19 * 1600)).toBe(152);
    expect(stagingStripColumns(50, 300, 8, 1, 20 * 1600)).toBe(152);
    // Not even one panel of all rows: no strips.
    expect(stagingStripColumns(50, 300, 8, 2, 2 * 1600 - 1)).toBe(0);
  });

  it("works on a shared memory", () => {
    const memory = new WA.Memory({ initial: 4, maximum: 2048, shared: true });
    expect(memory.buffer instanceof SharedArrayBuffer).toBe(true);
    const gemm = mustCreate({ memory });
    expect(gemm.memory).toBe(memory);
    for (let seed = 1; seed <= 5; seed++) {
      expect(runCase(gemm, { m: 37, k: 50, n: 41, seed, bias: seed % 2 === 0, accumulate: seed % 3 === 0, transposed: seed > 3 })).toBeLessThan(1e-5);
    }
    // A second instance of the kernel on the same memory (as a worker would build) computes a
    // panel range of the product into memory owned by the first.
    const worker = instantiateGemmKernel(memory, gemm.kernelOptions);
    expect(worker).not.toBeNull();
    const [m, k, n] = [9, 20, 30];
    const a = data(m * k, 11);
    const b = data(k * n, 12);
    const expected = new Float32Array(m * n);
    matmulReference(a, m, k, b, n, expected);
    const packed = gemm.pack(b, k, n);
    const aBuf = gemm.alloc(m * k);
    aBuf.view().set(a);
    const cBuf = gemm.alloc(m * n);
    const s1 = gemm.alloc(scratchFloats(gemm.layout, k));
    const s2 = gemm.alloc(scratchFloats(gemm.layout, k));
    const panels = panelCount(n, gemm.layout.nr);
    const mc = rowBlockRows(gemm.layout, k, n, m);
    gemm.exports.gemmRange(aBuf.ptr, packed.buffer.ptr, cBuf.ptr, 0, m, n, k, 0, s1.ptr, mc, 0, m, 0, 2);
    worker!.exports.gemmRange(aBuf.ptr, packed.buffer.ptr, cBuf.ptr, 0, m, n, k, 0, s2.ptr, mc, 0, m, 2, panels);
    expect(relErr(cBuf.view(), expected)).toBeLessThan(1e-5);

    // Growth of a shared memory does not detach old views.
    const buf = gemm.alloc(8);
    const v = buf.view();
    gemm.alloc(1 << 22);
    expect(v.length).toBe(8);
  });

  it("gemmRange over disjoint row and panel ranges assembles the full product", () => {
    const gemm = mustCreate();
    const { nr } = gemm.layout;
    const [m, k, n] = [23, 40, 61];
    const a = data(m * k, 8);
    const b = data(k * n, 9);
    const bias = data(n, 10);
    const expected = new Float32Array(m * n);
    matmulReference(a, m, k, b, n, expected, bias);

    const packed = gemm.pack(b, k, n);
    const aBuf = gemm.alloc(m * k);
    const biasBuf = gemm.alloc(n);
    const cBuf = gemm.alloc(m * n);
    const scratchA = gemm.alloc(scratchFloats(gemm.layout, k));
    const scratchB = gemm.alloc(scratchFloats(gemm.layout, k));
    aBuf.view().set(a);
    biasBuf.view().set(bias);
    cBuf.view().fill(Number.NaN);
    const panels = panelCount(n, nr);
    expect(panels).toBe(8);
    const ranges: [number, number, number, number, number][] = [
      [0, 10, 0, 3, scratchA.ptr],
      [10, 23, 0, 3, scratchB.ptr],
      [0, 23, 3, 5, scratchA.ptr],
      [0, 7, 5, panels, scratchB.ptr],
      [7, 23, 5, panels, scratchA.ptr],
    ];
    for (const [m0, m1, p0, p1, scratch] of ranges) {
      gemm.exports.gemmRange(aBuf.ptr, packed.buffer.ptr, cBuf.ptr, biasBuf.ptr, m, n, k, 0, scratch, rowBlockRows(gemm.layout, k, n, m1 - m0), m0, m1, p0, p1);
    }
    expect(relErr(cBuf.view(), expected)).toBeLessThan(1e-5);

    // Accumulate flag through the raw export.
    gemm.exports.gemm(aBuf.ptr, packed.buffer.ptr, cBuf.ptr, 0, m, n, k, GEMM_FLAG_ACCUMULATE, scratchA.ptr, rowBlockRows(gemm.layout, k, n, m));
    const twice = new Float32Array(m * n);
    matmulReference(a, m, k, b, n, twice);
    for (let i = 0; i < twice.length; i++) twice[i] += expected[i];
    expect(relErr(cBuf.view(), twice)).toBeLessThan(1e-5);
  });

  it("gives bit-identical results for any row blocking (mc), matching the reference", () => {
    // The raw exports with several row blocks per product, and two row ranges with different row
    // blocks each: every output element's k sum is the same sequence of operations.
    for (const kernel of [undefined, { mr: 3, vectors: 3, kc: 16 }]) {
      const gemm = mustCreate({ kernel });
      const { mr, nr, kc } = gemm.layout;
      fc.assert(
        fc.property(caseArb(90, 70, 40), fc.array(fc.integer({ min: -1, max: 100 }), { minLength: 1, maxLength: 4 }), fc.nat(), (c, mcs, cut) => {
          const { a, b, bias, initial, expected, scale } = caseOperands(c);
          const { m, k, n } = c;
          const auto = rowBlockRows(gemm.layout, k, n, m);
          const blocks = [auto, ...mcs];
          const packed = c.transposed ? gemm.packTransposed(transpose(b, k, n), n, k) : gemm.pack(b, k, n);
          const aBuf = gemm.alloc(m * k);
          const biasBuf = gemm.alloc(n);
          const cBuf = gemm.alloc(m * n);
          // Scratch for the largest row block tried (mc < 1 runs as mr).
          const scratch = gemm.alloc(scratchFloats({ mr, nr, kc, mc: Math.max(mr, ...blocks) }, k));
          aBuf.view().set(a);
          if (bias) biasBuf.view().set(bias);
          const flags = c.accumulate ? GEMM_FLAG_ACCUMULATE : 0;
          const biasPtr = bias ? biasBuf.ptr : 0;
          const run = (call: () => void): Float32Array => {
            if (c.accumulate) cBuf.view().set(initial);
            else cBuf.view().fill(Number.NaN);
            call();
            return cBuf.view().slice();
          };
          const want = run(() => gemm.exports.gemm(aBuf.ptr, packed.buffer.ptr, cBuf.ptr, biasPtr, m, n, k, flags, scratch.ptr, auto));
          expect(relErr(want, expected, scale), JSON.stringify(c)).toBeLessThan(1e-5);
          for (const mc of mcs) {
            const got = run(() => gemm.exports.gemm(aBuf.ptr, packed.buffer.ptr, cBuf.ptr, biasPtr, m, n, k, flags, scratch.ptr, mc));
            expect(bitsEqual(got, want), `${JSON.stringify(c)} mc=${mc}`).toBe(true);
          }
          const m1 = cut % (m + 1);
          const panels = panelCount(n, nr);
          const split = run(() => {
            gemm.exports.gemmRange(aBuf.ptr, packed.buffer.ptr, cBuf.ptr, biasPtr, m, n, k, flags, scratch.ptr, mcs[0]!, 0, m1, 0, panels);
            gemm.exports.gemmRange(aBuf.ptr, packed.buffer.ptr, cBuf.ptr, biasPtr, m, n, k, flags, scratch.ptr, mcs.at(-1)!, m1, m, 0, panels);
          });
          expect(bitsEqual(split, want), `${JSON.stringify(c)} rows split at ${m1}, mc ${mcs[0]} / ${mcs.at(-1)}`).toBe(true);
          for (const buf of [scratch, cBuf, biasBuf, aBuf, packed.buffer]) gemm.free(buf);
        }),
        propertyParams(`row blocking ${JSON.stringify(kernel)}`, kernel === undefined ? 60 : 30),
      );
    }
  });

  it("picks row blocks from k and n: larger where B is streamed from memory, within the scratch", () => {
    // The 6-row tile of the FMA kernel: multiples of 6.
    const fma = mustCreate().layout;
    expect(fma.mr).toBe(6);
    expect(maxRowBlock(fma, 768, 2304)).toBe(48);
    expect(maxRowBlock(fma, 768, 50257)).toBe(252);
    expect(rowBlockRows(fma, 768, 50257, 490)).toBe(246);
    expect(rowBlockRows(fma, 768, 50257, 13)).toBe(18);
    // The numbers below are for the 4-row tile of the kernel without FMA.
    const layout = mustCreate({ relaxedSimd: false }).layout;
    expect(layout.mc).toBeUndefined();
    // B cached (GPT-2's qkv, MLP and attention-out weights) or k short: 48 rows.
    expect(maxRowBlock(layout, 768, 2304)).toBe(48);
    expect(maxRowBlock(layout, 768, 3072)).toBe(48);
    expect(maxRowBlock(layout, 3072, 768)).toBe(48);
    expect(maxRowBlock(layout, 64, 50257)).toBe(48);
    // The unembedding (154 MB of packed B): up to 256 rows (768 KiB of packed A).
    expect(maxRowBlock(layout, 768, 50257)).toBe(256);
    expect(maxRowBlock(layout, 3072, 50257)).toBe(64);
    expect(maxRowBlock(layout, 8000, 50257)).toBe(48); // k blocks of 4096: 768 KiB would be 48 rows
    // Near-equal blocks, multiples of mr: 416 → 2 × 208, 490 → 2 × 248, 13 → one block of 16.
    expect(rowBlockRows(layout, 768, 50257, 416)).toBe(208);
    expect(rowBlockRows(layout, 768, 50257, 490)).toBe(248);
    expect(rowBlockRows(layout, 768, 50257, 13)).toBe(16);
    expect(rowBlockRows(layout, 768, 2304, 416)).toBe(48);
    expect(rowBlockRows(layout, 768, 2304, 100)).toBe(36);
    // A fixed mc (kernel option) is used as it is.
    const fixed = mustCreate({ kernel: { mc: 9 }, relaxedSimd: false }).layout;
    expect(fixed.mc).toBe(8);
    expect(rowBlockRows(fixed, 768, 50257, 416)).toBe(8);
    expect(() => generateGemmModule({ mc: 0 })).toThrow(RangeError);
    for (const l of [layout, fixed, { mr: 3, nr: 12, kc: 16 }, { mr: 6, nr: 8, kc: 4096 }]) {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 10000 }), fc.integer({ min: 1, max: 60000 }), fc.integer({ min: 0, max: 2000 }), (k, n, m) => {
          const max = maxRowBlock(l, k, n);
          const rows = rowBlockRows(l, k, n, m);
          expect(max % l.mr).toBe(0);
          expect(rows % l.mr).toBe(0);
          expect(rows).toBeGreaterThanOrEqual(l.mr);
          expect(rows).toBeLessThanOrEqual(max);
          if (m > 0) expect(Math.ceil(m / rows)).toBe(Math.ceil(m / max)); // no more blocks than needed
          expect(scratchFloats(l, k)).toBeGreaterThanOrEqual(l.mr * l.nr + max * Math.min(Math.max(k, 1), l.kc));
        }),
        propertyParams(`row block sizes ${JSON.stringify(l)}`, 300),
      );
    }
  });

  it("computes a product with a streamed B in large row blocks, bit-identical to small ones", () => {
    // 512×6144 floats of packed B = 12 MiB: 300 rows in 2 row blocks of 152 (vs 38 blocks of 8).
    const [m, k, n] = [300, 512, 6144];
    const large = mustCreate({ relaxedSimd: false });
    const small = mustCreate({ kernel: { mc: 8 }, relaxedSimd: false });
    expect(rowBlockRows(large.layout, k, n, m)).toBe(152);
    const a = data(m * k, 21);
    const b = data(k * n, 22);
    const bias = data(n, 23);
    const initial = data(m * n, 24);
    const outs = [large, small].map((gemm) => {
      const out = initial.slice();
      const packed = gemm.pack(b, k, n);
      gemm.matmul(a, m, packed, out, bias, true);
      gemm.free(packed.buffer);
      return out;
    });
    expect(bitsEqual(outs[0]!, outs[1]!)).toBe(true);
    // The reference on rows around the block boundaries (the whole product is slow in plain TS).
    for (const row of [0, 3, 151, 152, 153, 299]) {
      const want = initial.slice(row * n, (row + 1) * n);
      const product = new Float32Array(n);
      matmulReference(a.subarray(row * k, (row + 1) * k), 1, k, b, n, product, bias);
      for (let j = 0; j < n; j++) want[j] += product[j];
      expect(relErr(outs[0]!.subarray(row * n, (row + 1) * n), want), `row ${row}`).toBeLessThan(1e-5);
    }
  });

  it("packs B into zero-padded column panels", () => {
    const gemm = mustCreate();
    const nr = gemm.layout.nr;
    const [k, n] = [3, nr + 2];
    const b = Float32Array.from({ length: k * n }, (_, i) => i + 1);
    const packed = gemm.pack(b, k, n);
    const t = gemm.packTransposed(transpose(b, k, n), n, k);
    expect(packed.buffer.length).toBe(packedLength(k, n, nr));
    expect(packed.panelWidth).toBe(nr);
    const v = packed.buffer.view();
    expect(t.buffer.view()).toEqual(v);
    for (let kk = 0; kk < k; kk++) {
      for (let j = 0; j < 2 * nr; j++) {
        const p = Math.floor(j / nr);
        const got = v[(p * k + kk) * nr + (j % nr)];
        expect(got).toBe(j < n ? b[kk * n + j] : 0);
      }
    }
  });

  it("allocator reuses and coalesces freed blocks", () => {
    const gemm = mustCreate();
    gemm.releaseStaging();
    const top0 = gemm.heapTop;
    const x = gemm.alloc(100);
    const y = gemm.alloc(100);
    const z = gemm.alloc(100);
    expect(x.ptr % 16).toBe(0);
    expect(x.ptr).not.toBe(0);
    expect(new Set([x.ptr, y.ptr, z.ptr]).size).toBe(3);
    gemm.free(x);
    gemm.free(y);
    const w = gemm.alloc(200); // fits in the coalesced x+y hole
    expect(w.ptr).toBe(x.ptr);
    gemm.free(z); // z touches the top: the top comes down
    gemm.free(w);
    expect(gemm.heapTop).toBe(top0);
    expect(() => gemm.free(w)).toThrow(InputError);
    expect(() => w.view()).toThrow(InputError);
    const other = mustCreate();
    expect(() => gemm.free(other.alloc(4))).toThrow(InputError);
  });

  it("rejects bad shapes with InputError", () => {
    const gemm = mustCreate();
    const packed = gemm.pack(new Float32Array(12), 3, 4);
    expect(() => gemm.matmul(new Float32Array(5), 2, packed, new Float32Array(8))).toThrow(InputError);
    expect(() => gemm.matmul(new Float32Array(6), 2, packed, new Float32Array(7))).toThrow(InputError);
    expect(() => gemm.matmul(new Float32Array(6), 2, packed, new Float32Array(8), new Float32Array(3))).toThrow(InputError);
    expect(() => gemm.matmul(new Float32Array(6), 1.5, packed, new Float32Array(8))).toThrow(InputError);
    expect(() => gemm.pack(new Float32Array(11), 3, 4)).toThrow(InputError);
    expect(() => gemm.packTransposed(new Float32Array(11), 4, 3)).toThrow(InputError);
    const other = mustCreate();
    expect(() => other.matmul(new Float32Array(6), 2, packed, new Float32Array(8))).toThrow(InputError);
    gemm.free(packed.buffer);
    expect(() => gemm.matmul(new Float32Array(6), 2, packed, new Float32Array(8))).toThrow(InputError);
    expect(() => gemm.alloc(-1)).toThrow(Gpt2LensError);
  });
});

describe("matmulReference", () => {
  it("computes a small product exactly", () => {
    const out = new Float32Array(4);
    matmulReference(Float32Array.of(1, 2, 3, 4, 5, 6), 2, 3, Float32Array.of(1, 0, 0, 1, 1, 1), 2, out, Float32Array.of(10, 20));
    expect([...out]).toEqual([1 + 3 + 10, 2 + 3 + 20, 4 + 6 + 10, 5 + 6 + 20]);
  });
});

describe("wasm-writer", () => {
  it("encodes LEB128", () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([127]);
    expect(uleb(128)).toEqual([0x80, 1]);
    expect(uleb(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(sleb(0)).toEqual([0]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(63)).toEqual([63]);
    expect(sleb(64)).toEqual([0xc0, 0]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(0x7fffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x07]);
    expect(sleb(-0x80000000)).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
    expect(() => uleb(-1)).toThrow(RangeError);
  });

  it("assembles a module that runs (scalar loop and SIMD lanes)", () => {
    // sum(i for i in [0, n)) + lane 2 of (f32x4(1,2,3,4) * splat(x)) truncated via f32 -> compare in JS.
    const sum = new FunctionBuilder([ValType.i32], [ValType.i32]);
    const [n] = sum.params;
    const i = sum.local(ValType.i32);
    const acc = sum.local(ValType.i32);
    sum.forRange(i, () => sum.i32Const(0), () => sum.get(n), 1, () => {
      sum.get(acc).get(i).i32Add().set(acc);
    });
    sum.get(acc);
    const lane = new FunctionBuilder([ValType.f32], [ValType.f32]);
    lane.v128ConstF32x4([1, 2, 3, 4]).get(lane.param(0)).f32x4Splat().f32x4Mul().f32x4ExtractLane(2);
    const bytes = encodeModule({ functions: [sum, lane], exports: { sum: 0, lane: 1 } });
    expect(WA.validate(bytes)).toBe(true);
    const { exports } = new WA.Instance(new WA.Module(bytes), {});
    expect((exports.sum as (n: number) => number)(100)).toBe(4950);
    expect((exports.lane as (x: number) => number)(2.5)).toBe(7.5);
  });

  it("encodes v128.load64_zero (low 64 bits loaded, high 64 bits zero)", () => {
    const f = new FunctionBuilder([ValType.i32, ValType.i32]);
    const [dst, src] = f.params;
    f.get(dst).get(src).v128Load64Zero(4, 2).v128Store(0, 2);
    const bytes = encodeModule({ memory: { module: "env", name: "memory", minPages: 1 }, functions: [f], exports: { copy: 0 } });
    expect(WA.validate(bytes)).toBe(true);
    const memory = new WA.Memory({ initial: 1 });
    const { exports } = new WA.Instance(new WA.Module(bytes), { env: { memory } });
    const f32 = new Float32Array(memory.buffer);
    f32.set([1, 2, 3, 4, 5], 8);
    f32.fill(9, 0, 4);
    (exports.copy as (dst: number, src: number) => void)(0, 32);
    expect([...f32.subarray(0, 4)]).toEqual([2, 3, 0, 0]);
  });

  it("generates valid GEMM modules for plain and shared memory", () => {
    expect(WA.validate(generateGemmModule().bytes)).toBe(true);
    expect(WA.validate(generateGemmModule({ sharedMemory: true, mr: 5, vectors: 3, unroll: 2 }).bytes)).toBe(true);
    for (let mr = 1; mr <= 8; mr++) expect(WA.validate(generateGemmModule({ mr, splatFromVector: true, unroll: 2 }).bytes)).toBe(true);
    expect(() => generateGemmModule({ mr: 0 })).toThrow(RangeError);
  });
});
