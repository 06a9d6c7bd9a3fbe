import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  bfloat16BitsToFloat32Bits,
  bfloat16ToFloat32Array,
  float32BitsToBfloat16Bits,
  float32BitsToHalfBits,
  float32ToBfloat16Array,
  float32ToHalfArray,
  halfBitsToFloat32Bits,
  halfToFloat32Array,
} from "../../src/io/float16.ts";

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);
const bitsOf = (x: number): number => ((scratch[0] = x), scratchBits[0]);
const floatOf = (bits: number): number => ((scratchBits[0] = bits), scratch[0]);

/** Independent reference: the IEEE-754 binary16 formula evaluated in float64. */
function halfReference(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exp - 15) * (1 + mant / 1024);
}

const bf16Reference = (b: number): number => floatOf((b << 16) >>> 0);
const decodeHalf = (h: number): number => floatOf(halfBitsToFloat32Bits(h));
const encodeHalf = (x: number): number => float32BitsToHalfBits(bitsOf(x));
const encodeBf16 = (x: number): number => float32BitsToBfloat16Bits(bitsOf(x));

describe("F16 -> F32", () => {
  it.each([
    [0x3c00, 1],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x0400, 2 ** -14],
    [0x0000, 0],
    [0x8000, -0],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
    [0xc000, -2],
    [0x3555, 0.333251953125],
  ])("bit pattern %i decodes to %s", (h, expected) => {
    expect(Object.is(decodeHalf(h), expected)).toBe(true);
  });

  it("NaNs stay NaN with sign and payload", () => {
    for (const h of [0x7e00, 0x7c01, 0xfe00, 0x7fff, 0xfd55]) {
      const bits = halfBitsToFloat32Bits(h);
      expect(Number.isNaN(floatOf(bits))).toBe(true);
      expect(bits >>> 31).toBe(h >> 15);
      expect((bits >>> 13) & 0x3ff).toBe(h & 0x3ff);
    }
  });

  it("matches the binary16 formula for all 65536 bit patterns", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const widened = halfToFloat32Array(all);
    for (let h = 0; h < 65536; h++) {
      const expected = halfReference(h);
      if (!Object.is(widened[h], expected)) throw new Error(`0x${h.toString(16)}: ${widened[h]} != ${expected}`);
    }
  });
});

describe("F32 -> F16 (round to nearest, ties to even)", () => {
  it.each([
    [1, 0x3c00],
    [65504, 0x7bff],
    [Math.fround(65519.99), 0x7bff],
    [65520, 0x7c00],
    [1e10, 0x7c00],
    [-1e10, 0xfc00],
    [Infinity, 0x7c00],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000],
    [Math.fround(2 ** -25 * (1 + 2 ** -23)), 0x0001],
    [1.5 * 2 ** -24, 0x0002],
    [2.5 * 2 ** -24, 0x0002],
    [2 ** -14, 0x0400],
    [1023.5 * 2 ** -24, 0x0400],
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
    [-0, 0x8000],
    [1e-30, 0x0000],
    [-1e-30, 0x8000],
  ])("%s encodes to bit pattern %i", (x, expected) => {
    expect(encodeHalf(x)).toBe(expected);
  });

  it("maps NaN like PyTorch: sign | 0x7E00", () => {
    expect(encodeHalf(NaN)).toBe(0x7e00);
    expect(float32BitsToHalfBits(0xffc00000)).toBe(0xfe00);
    expect(float32BitsToHalfBits(0x7f800001)).toBe(0x7e00);
  });

  it("every finite half survives a round trip through float32", () => {
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      if (encodeHalf(decodeHalf(h)) !== h) throw new Error(`0x${h.toString(16)} does not round-trip`);
    }
  });

  it("midpoints between neighbouring halves round to the even one", () => {
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (halfReference(h) + halfReference(h + 1)) / 2;
      expect(Math.fround(mid)).toBe(mid);
      const expected = h % 2 === 0 ? h : h + 1;
      if (encodeHalf(mid) !== expected || encodeHalf(-mid) !== (expected | 0x8000)) {
        throw new Error(`midpoint after 0x${h.toString(16)} rounds wrongly`);
      }
    }
  });

  it("picks the nearest half for any float32", () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const h = encodeHalf(x);
        if (Math.abs(x) >= 65520) return h === (x < 0 ? 0xfc00 : 0x7c00);
        const err = Math.abs(halfReference(h) - x);
        for (const n of [h - 1, h + 1]) {
          if ((n & 0x7fff) > 0x7bff || (n & 0x8000) !== (h & 0x8000)) continue;
          const other = Math.abs(halfReference(n) - x);
          if (other < err || (other === err && h % 2 === 1)) return false;
        }
        return (h & 0x8000) === (bitsOf(x) >>> 31) << 15;
      }),
      { numRuns: 2000 },
    );
  });

  it("converts arrays", () => {
    const src = new Float32Array([1, -2, 65504, 2 ** -24, NaN, -Infinity]);
    expect([...float32ToHalfArray(src)]).toEqual([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7e00, 0xfc00]);
  });
});

describe("BF16", () => {
  it("widens by shifting into the top half, for all 65536 patterns", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const widened = bfloat16ToFloat32Array(all);
    const widenedBits = new Uint32Array(widened.buffer);
    for (let b = 0; b < 65536; b++) {
      if (widenedBits[b] !== ((b << 16) >>> 0) || bfloat16BitsToFloat32Bits(b) !== ((b << 16) >>> 0)) {
        throw new Error(`0x${b.toString(16)}`);
      }
    }
    expect(bf16Reference(0x3f80)).toBe(1);
  });

  it.each([
    [1, 0x3f80],
    [-2, 0xc000],
    [1 + 2 ** -8, 0x3f80],
    [1 + 3 * 2 ** -8, 0x3f82],
    [Infinity, 0x7f80],
    [3.4028234663852886e38, 0x7f80],
    [-0, 0x8000],
  ])("%s encodes to bit pattern %i", (x, expected) => {
    expect(encodeBf16(x)).toBe(expected);
  });

  it("maps every NaN to 0x7FC0 like PyTorch", () => {
    expect(encodeBf16(NaN)).toBe(0x7fc0);
    expect(float32BitsToBfloat16Bits(0xffc00000)).toBe(0x7fc0);
    expect(float32BitsToBfloat16Bits(0x7f800001)).toBe(0x7fc0);
  });

  it("picks the nearest bfloat16 for any float32", () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const b = encodeBf16(x);
        const err = Math.abs(bf16Reference(b) - x);
        if (!Number.isFinite(err)) return Math.abs(x) >= 3.3961775292304957e38;
        for (const n of [b - 1, b + 1]) {
          if ((n & 0x7fff) > 0x7f7f || (n & 0x8000) !== (b & 0x8000)) continue;
          const other = Math.abs(bf16Reference(n) - x);
          if (other < err || (other === err && b % 2 === 1)) return false;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
    expect([...float32ToBfloat16Array(new Float32Array([1, NaN]))]).toEqual([0x3f80, 0x7fc0]);
  });
});
