/**
 * Exact IEEE-754 half (F16) and bfloat16 (BF16) <-> float32 conversions on raw bit patterns, so NaN
 * payloads, signed zeros and subnormals survive. Narrowing rounds to nearest, ties to even, and maps
 * NaN the way PyTorch does (F16: sign | 0x7E00, BF16: 0x7FC0).
 */

let halfToFloatBits: Uint32Array | undefined;

function buildHalfTable(): Uint32Array {
  const table = new Uint32Array(65536);
  const scratch = new Float32Array(1);
  const scratchBits = new Uint32Array(scratch.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) {
      table[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else if (exp !== 0) {
      table[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    } else {
      scratch[0] = mant * 2 ** -24;
      table[h] = (sign | scratchBits[0]) >>> 0;
    }
  }
  return table;
}

export function halfBitsToFloat32Bits(h: number): number {
  halfToFloatBits ??= buildHalfTable();
  return halfToFloatBits[h & 0xffff];
}

export function float32BitsToHalfBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs < 0x38800000) {
    const exp = abs >>> 23;
    if (exp < 102) return sign;
    const m = (abs & 0x7fffff) | 0x800000;
    const shift = 126 - exp;
    let q = m >>> shift;
    const rest = m - q * 2 ** shift;
    const halfway = 2 ** (shift - 1);
    if (rest > halfway || (rest === halfway && (q & 1) === 1)) q++;
    return sign | q;
  }
  let h = (((abs >>> 23) - 112) << 10) | ((abs >>> 13) & 0x3ff);
  const rest = abs & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

export function bfloat16BitsToFloat32Bits(b: number): number {
  return ((b & 0xffff) << 16) >>> 0;
}

export function float32BitsToBfloat16Bits(bits: number): number {
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return 0x7fc0;
  const u = bits >>> 0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function halfToFloat32Array(src: Uint16Array): Float32Array {
  halfToFloatBits ??= buildHalfTable();
  const out = new Float32Array(src.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) outBits[i] = halfToFloatBits[src[i]];
  return out;
}

export function bfloat16ToFloat32Array(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) outBits[i] = src[i] << 16;
  return out;
}

function float32Bits(src: Float32Array): Uint32Array {
  return new Uint32Array(src.buffer, src.byteOffset, src.length);
}

export function float32ToHalfArray(src: Float32Array): Uint16Array {
  const bits = float32Bits(src);
  const out = new Uint16Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = float32BitsToHalfBits(bits[i]);
  return out;
}

export function float32ToBfloat16Array(src: Float32Array): Uint16Array {
  const bits = float32Bits(src);
  const out = new Uint16Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = float32BitsToBfloat16Bits(bits[i]);
  return out;
}
