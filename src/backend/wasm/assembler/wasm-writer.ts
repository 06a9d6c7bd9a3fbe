/**
 * A tiny WebAssembly binary assembler: just enough of the format (LEB128, the type / import /
 * function / export / code sections, the MVP and SIMD128 opcodes we use) to emit hand-scheduled
 * numeric kernels from TypeScript at run time. No toolchain, no binary blobs.
 *
 * Usage: build function bodies with {@link FunctionBuilder} (a stack-machine emitter with chained
 * methods that mirror the opcodes), then hand them to {@link encodeModule}.
 *
 * Reference: https://webassembly.github.io/spec/core/binary/ and the SIMD proposal's opcode table.
 */

/** Value types (binary encodings). */
export const ValType = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
} as const;
export type ValType = (typeof ValType)[keyof typeof ValType];

/** Block type "no params, no results". */
const BLOCK_EMPTY = 0x40;

/** Plain (single-byte) opcodes. */
const Op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  i32_load: 0x28,
  f32_load: 0x2a,
  i32_store: 0x36,
  f32_store: 0x38,
  i32_const: 0x41,
  f32_const: 0x43,
  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_s: 0x48,
  i32_lt_u: 0x49,
  i32_gt_s: 0x4a,
  i32_gt_u: 0x4b,
  i32_le_s: 0x4c,
  i32_le_u: 0x4d,
  i32_ge_s: 0x4e,
  i32_ge_u: 0x4f,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_div_u: 0x6e,
  i32_rem_u: 0x70,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_shl: 0x74,
  i32_shr_u: 0x76,
  f32_add: 0x92,
  f32_sub: 0x93,
  f32_mul: 0x94,
  f32_div: 0x95,
  f64_load: 0x2b,
  f64_store: 0x39,
  f64_const: 0x44,
  f32_eq: 0x5b,
  f32_ne: 0x5c,
  f32_lt: 0x5d,
  f32_gt: 0x5e,
  f32_le: 0x5f,
  f32_ge: 0x60,
  f32_min: 0x96,
  f32_max: 0x97,
  f64_add: 0xa0,
  f64_sub: 0xa1,
  f64_mul: 0xa2,
  f64_div: 0xa3,
  f64_sqrt: 0x9f,
  f64_convert_i32_u: 0xb8,
  f32_demote_f64: 0xb6,
  f64_promote_f32: 0xbb,
} as const;

/** SIMD128 opcodes (emitted as 0xFD prefix + LEB128 u32). */
const SimdOp = {
  v128_load: 0x00,
  v128_load32_splat: 0x09,
  v128_store: 0x0b,
  v128_const: 0x0c,
  f32x4_splat: 0x13,
  f32x4_extract_lane: 0x1f,
  f32x4_replace_lane: 0x20,
  f32x4_add: 0xe4,
  f32x4_sub: 0xe5,
  f32x4_mul: 0xe6,
  f32x4_div: 0xe7,
  f32x4_demote_f64x2_zero: 0x5e,
  v128_load64_zero: 0x5d,
  /** Relaxed-SIMD proposal: a*b+c, fused or not at the engine's choice. */
  f32x4_relaxed_madd: 0x105,
  i8x16_shuffle: 0x0d,
  i32x4_splat: 0x11,
  f64x2_splat: 0x14,
  i32x4_extract_lane: 0x1b,
  f64x2_extract_lane: 0x21,
  i32x4_eq: 0x37,
  i32x4_lt_s: 0x39,
  i32x4_gt_s: 0x3b,
  f32x4_eq: 0x41,
  f32x4_ne: 0x42,
  f32x4_lt: 0x43,
  f32x4_gt: 0x44,
  f32x4_le: 0x45,
  f32x4_ge: 0x46,
  v128_not: 0x4d,
  v128_and: 0x4e,
  v128_andnot: 0x4f,
  v128_or: 0x50,
  v128_xor: 0x51,
  v128_bitselect: 0x52,
  f64x2_promote_low_f32x4: 0x5f,
  f32x4_nearest: 0x6a,
  i32x4_shl: 0xab,
  i32x4_shr_s: 0xac,
  i32x4_shr_u: 0xad,
  i32x4_add: 0xae,
  i32x4_sub: 0xb1,
  f32x4_min: 0xe8,
  f32x4_max: 0xe9,
  f32x4_pmin: 0xea,
  f32x4_pmax: 0xeb,
  f64x2_add: 0xf0,
  f64x2_sub: 0xf1,
  f64x2_mul: 0xf2,
  i32x4_trunc_sat_f32x4_s: 0xf8,
  f32x4_convert_i32x4_s: 0xfa,
} as const;

const SIMD_PREFIX = 0xfd;

// ---------------------------------------------------------------------------------------------
// LEB128 and small encoders

/** Unsigned LEB128. `value` must be a non-negative integer < 2^32. */
export function uleb(value: number, out: number[] = []): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`uleb: ${value} is not a u32`);
  }
  let v = value;
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 for an i32 (values in [-2^31, 2^32) are accepted; the latter wrap like ToInt32). */
export function sleb(value: number, out: number[] = []): number[] {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0xffffffff) {
    throw new RangeError(`sleb: ${value} is not an i32`);
  }
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const signBitSet = (byte & 0x40) !== 0;
    if ((v === 0 && !signBitSet) || (v === -1 && signBitSet)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function utf8(s: string): number[] {
  const bytes = new TextEncoder().encode(s);
  return [...uleb(bytes.length), ...bytes];
}

/** A length-prefixed vector of already-encoded items. */
function vec(items: number[][]): number[] {
  const out = uleb(items.length);
  for (const item of items) out.push(...item);
  return out;
}

function section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}

// ---------------------------------------------------------------------------------------------
// Function bodies

/** A local variable (or parameter) handle; only meaningful within the builder that made it. */
export interface Local {
  readonly index: number;
  readonly type: ValType;
}

/**
 * Emits one function body. Methods push opcodes in order and return `this`, so code reads like
 * the stack-machine text format: `f.get(x).get(y).i32Add().set(z)`.
 *
 * Structured control flow: `block`/`loop`/`if_` take a callback for the body and close it with
 * `end`. Branch depths are the usual relative label indices (0 = innermost enclosing block).
 */
export class FunctionBuilder {
  readonly params: readonly Local[];
  readonly results: readonly ValType[];
  private readonly localTypes: ValType[] = [];
  private readonly code: number[] = [];

  constructor(params: readonly ValType[], results: readonly ValType[] = []) {
    this.params = params.map((type, index) => ({ index, type }));
    this.results = [...results];
  }

  /** Parameter `i` (0-based). */
  param(i: number): Local {
    const p = this.params[i];
    if (p === undefined) throw new RangeError(`no parameter ${i}`);
    return p;
  }

  /** Declares a new local of the given type. */
  local(type: ValType): Local {
    const local = { index: this.params.length + this.localTypes.length, type };
    this.localTypes.push(type);
    return local;
  }

  private op(opcode: number, ...immediates: number[]): this {
    this.code.push(opcode, ...immediates);
    return this;
  }

  private simd(opcode: number, ...immediates: number[]): this {
    this.code.push(SIMD_PREFIX, ...uleb(opcode), ...immediates);
    return this;
  }

  /** memarg: alignment exponent (log2 bytes) and static byte offset. */
  private static memarg(alignLog2: number, offset: number): number[] {
    return [...uleb(alignLog2), ...uleb(offset)];
  }

  // --- variables
  get(l: Local): this {
    return this.op(Op.local_get, ...uleb(l.index));
  }
  set(l: Local): this {
    return this.op(Op.local_set, ...uleb(l.index));
  }
  tee(l: Local): this {
    return this.op(Op.local_tee, ...uleb(l.index));
  }

  // --- control
  block(body: () => void): this {
    this.op(Op.block, BLOCK_EMPTY);
    body();
    return this.op(Op.end);
  }
  loop(body: () => void): this {
    this.op(Op.loop, BLOCK_EMPTY);
    body();
    return this.op(Op.end);
  }
  /** `if` (consumes an i32 condition) with an optional `else` arm. */
  if_(then: () => void, otherwise?: () => void): this {
    this.op(Op.if, BLOCK_EMPTY);
    then();
    if (otherwise) {
      this.op(Op.else);
      otherwise();
    }
    return this.op(Op.end);
  }
  br(depth: number): this {
    return this.op(Op.br, ...uleb(depth));
  }
  brIf(depth: number): this {
    return this.op(Op.br_if, ...uleb(depth));
  }
  return_(): this {
    return this.op(Op.return);
  }
  call(functionIndex: number): this {
    return this.op(Op.call, ...uleb(functionIndex));
  }
  drop(): this {
    return this.op(Op.drop);
  }
  select(): this {
    return this.op(Op.select);
  }
  unreachable(): this {
    return this.op(Op.unreachable);
  }

  // --- i32
  i32Const(v: number): this {
    return this.op(Op.i32_const, ...sleb(v));
  }
  i32Load(offset = 0): this {
    return this.op(Op.i32_load, ...FunctionBuilder.memarg(2, offset));
  }
  i32Store(offset = 0): this {
    return this.op(Op.i32_store, ...FunctionBuilder.memarg(2, offset));
  }
  i32Eqz(): this {
    return this.op(Op.i32_eqz);
  }
  i32Eq(): this {
    return this.op(Op.i32_eq);
  }
  i32Ne(): this {
    return this.op(Op.i32_ne);
  }
  i32LtS(): this {
    return this.op(Op.i32_lt_s);
  }
  i32LtU(): this {
    return this.op(Op.i32_lt_u);
  }
  i32GtS(): this {
    return this.op(Op.i32_gt_s);
  }
  i32GtU(): this {
    return this.op(Op.i32_gt_u);
  }
  i32LeS(): this {
    return this.op(Op.i32_le_s);
  }
  i32LeU(): this {
    return this.op(Op.i32_le_u);
  }
  i32GeS(): this {
    return this.op(Op.i32_ge_s);
  }
  i32GeU(): this {
    return this.op(Op.i32_ge_u);
  }
  i32Add(): this {
    return this.op(Op.i32_add);
  }
  i32Sub(): this {
    return this.op(Op.i32_sub);
  }
  i32Mul(): this {
    return this.op(Op.i32_mul);
  }
  i32DivU(): this {
    return this.op(Op.i32_div_u);
  }
  i32RemU(): this {
    return this.op(Op.i32_rem_u);
  }
  i32And(): this {
    return this.op(Op.i32_and);
  }
  i32Or(): this {
    return this.op(Op.i32_or);
  }
  i32Shl(): this {
    return this.op(Op.i32_shl);
  }
  i32ShrU(): this {
    return this.op(Op.i32_shr_u);
  }

  // --- f32 scalar
  f32Const(v: number): this {
    const bytes = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(Op.f32_const, ...bytes);
  }
  f32Load(offset = 0): this {
    return this.op(Op.f32_load, ...FunctionBuilder.memarg(2, offset));
  }
  f32Store(offset = 0): this {
    return this.op(Op.f32_store, ...FunctionBuilder.memarg(2, offset));
  }
  f32Add(): this {
    return this.op(Op.f32_add);
  }
  f32Sub(): this {
    return this.op(Op.f32_sub);
  }
  f32Mul(): this {
    return this.op(Op.f32_mul);
  }
  f32Div(): this {
    return this.op(Op.f32_div);
  }
  f32Eq(): this {
    return this.op(Op.f32_eq);
  }
  f32Ne(): this {
    return this.op(Op.f32_ne);
  }
  f32Lt(): this {
    return this.op(Op.f32_lt);
  }
  f32Gt(): this {
    return this.op(Op.f32_gt);
  }
  f32Le(): this {
    return this.op(Op.f32_le);
  }
  f32Ge(): this {
    return this.op(Op.f32_ge);
  }
  /** f32.min (NaN-propagating; −0 < +0). */
  f32Min(): this {
    return this.op(Op.f32_min);
  }
  /** f32.max (NaN-propagating; −0 < +0). */
  f32Max(): this {
    return this.op(Op.f32_max);
  }

  // --- f64 scalar
  f64Const(v: number): this {
    const bytes = new Uint8Array(new Float64Array([v]).buffer);
    return this.op(Op.f64_const, ...bytes);
  }
  f64Load(offset = 0): this {
    return this.op(Op.f64_load, ...FunctionBuilder.memarg(3, offset));
  }
  f64Store(offset = 0): this {
    return this.op(Op.f64_store, ...FunctionBuilder.memarg(3, offset));
  }
  f64Add(): this {
    return this.op(Op.f64_add);
  }
  f64Sub(): this {
    return this.op(Op.f64_sub);
  }
  f64Mul(): this {
    return this.op(Op.f64_mul);
  }
  f64Div(): this {
    return this.op(Op.f64_div);
  }
  f64Sqrt(): this {
    return this.op(Op.f64_sqrt);
  }
  f64ConvertI32U(): this {
    return this.op(Op.f64_convert_i32_u);
  }
  f32DemoteF64(): this {
    return this.op(Op.f32_demote_f64);
  }
  f64PromoteF32(): this {
    return this.op(Op.f64_promote_f32);
  }

  // --- SIMD128
  /** v128.load; `alignLog2` is a hint (4 = 16-byte aligned). */
  v128Load(offset = 0, alignLog2 = 4): this {
    return this.simd(SimdOp.v128_load, ...FunctionBuilder.memarg(alignLog2, offset));
  }
  v128Store(offset = 0, alignLog2 = 4): this {
    return this.simd(SimdOp.v128_store, ...FunctionBuilder.memarg(alignLog2, offset));
  }
  /** Loads one f32 (as 32 bits) and splats it to all four lanes. */
  v128Load32Splat(offset = 0): this {
    return this.simd(SimdOp.v128_load32_splat, ...FunctionBuilder.memarg(2, offset));
  }
  /** Loads 64 bits into the low half of a zeroed v128. */
  v128Load64Zero(offset = 0, alignLog2 = 3): this {
    return this.simd(SimdOp.v128_load64_zero, ...FunctionBuilder.memarg(alignLog2, offset));
  }
  /** v128.const holding four f32 lanes. */
  v128ConstF32x4(lanes: readonly [number, number, number, number]): this {
    const bytes = new Uint8Array(new Float32Array(lanes).buffer);
    return this.simd(SimdOp.v128_const, ...bytes);
  }
  f32x4Splat(): this {
    return this.simd(SimdOp.f32x4_splat);
  }
  f32x4ExtractLane(lane: number): this {
    return this.simd(SimdOp.f32x4_extract_lane, lane);
  }
  f32x4ReplaceLane(lane: number): this {
    return this.simd(SimdOp.f32x4_replace_lane, lane);
  }
  f32x4Add(): this {
    return this.simd(SimdOp.f32x4_add);
  }
  f32x4Sub(): this {
    return this.simd(SimdOp.f32x4_sub);
  }
  f32x4Mul(): this {
    return this.simd(SimdOp.f32x4_mul);
  }
  f32x4Div(): this {
    return this.simd(SimdOp.f32x4_div);
  }
  /** [f32(a0), f32(a1), 0, 0] from an f64x2. */
  f32x4DemoteF64x2Zero(): this {
    return this.simd(SimdOp.f32x4_demote_f64x2_zero);
  }
  /** Relaxed SIMD: pops a, b, c; pushes a*b+c (possibly fused). Only valid if the engine supports it. */
  f32x4RelaxedMadd(): this {
    return this.simd(SimdOp.f32x4_relaxed_madd);
  }
  /** v128.const holding four i32 lanes (values in [-2^31, 2^32), stored as their low 32 bits). */
  v128ConstI32x4(lanes: readonly [number, number, number, number]): this {
    const bytes = new Uint8Array(new Uint32Array(lanes.map((v) => v >>> 0)).buffer);
    return this.simd(SimdOp.v128_const, ...bytes);
  }
  /** i8x16.shuffle: pops a, b; lane i of the result is byte lanes[i] of a‖b (0..31). */
  i8x16Shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16 || lanes.some((l) => !Number.isInteger(l) || l < 0 || l > 31)) {
      throw new RangeError("i8x16.shuffle needs 16 lane indices in [0, 31]");
    }
    return this.simd(SimdOp.i8x16_shuffle, ...lanes);
  }
  i32x4Splat(): this {
    return this.simd(SimdOp.i32x4_splat);
  }
  f64x2Splat(): this {
    return this.simd(SimdOp.f64x2_splat);
  }
  i32x4ExtractLane(lane: number): this {
    return this.simd(SimdOp.i32x4_extract_lane, lane);
  }
  f64x2ExtractLane(lane: number): this {
    return this.simd(SimdOp.f64x2_extract_lane, lane);
  }
  i32x4Eq(): this {
    return this.simd(SimdOp.i32x4_eq);
  }
  i32x4LtS(): this {
    return this.simd(SimdOp.i32x4_lt_s);
  }
  i32x4GtS(): this {
    return this.simd(SimdOp.i32x4_gt_s);
  }
  f32x4Eq(): this {
    return this.simd(SimdOp.f32x4_eq);
  }
  f32x4Ne(): this {
    return this.simd(SimdOp.f32x4_ne);
  }
  f32x4Lt(): this {
    return this.simd(SimdOp.f32x4_lt);
  }
  f32x4Gt(): this {
    return this.simd(SimdOp.f32x4_gt);
  }
  f32x4Le(): this {
    return this.simd(SimdOp.f32x4_le);
  }
  f32x4Ge(): this {
    return this.simd(SimdOp.f32x4_ge);
  }
  v128Not(): this {
    return this.simd(SimdOp.v128_not);
  }
  v128And(): this {
    return this.simd(SimdOp.v128_and);
  }
  /** v128.andnot: pops a, b; pushes a & ~b. */
  v128Andnot(): this {
    return this.simd(SimdOp.v128_andnot);
  }
  v128Or(): this {
    return this.simd(SimdOp.v128_or);
  }
  v128Xor(): this {
    return this.simd(SimdOp.v128_xor);
  }
  /** v128.bitselect: pops a, b, mask; pushes (a & mask) | (b & ~mask). */
  v128Bitselect(): this {
    return this.simd(SimdOp.v128_bitselect);
  }
  /** f64x2.promote_low_f32x4: lanes 0 and 1 of an f32x4, widened to f64. */
  f64x2PromoteLowF32x4(): this {
    return this.simd(SimdOp.f64x2_promote_low_f32x4);
  }
  /** Round to nearest, ties to even. */
  f32x4Nearest(): this {
    return this.simd(SimdOp.f32x4_nearest);
  }
  /** i32x4.shl: pops a vector and an i32 shift count (mod 32). */
  i32x4Shl(): this {
    return this.simd(SimdOp.i32x4_shl);
  }
  i32x4ShrS(): this {
    return this.simd(SimdOp.i32x4_shr_s);
  }
  i32x4ShrU(): this {
    return this.simd(SimdOp.i32x4_shr_u);
  }
  i32x4Add(): this {
    return this.simd(SimdOp.i32x4_add);
  }
  i32x4Sub(): this {
    return this.simd(SimdOp.i32x4_sub);
  }
  /** f32x4.min (NaN-propagating). */
  f32x4Min(): this {
    return this.simd(SimdOp.f32x4_min);
  }
  /** f32x4.max (NaN-propagating). */
  f32x4Max(): this {
    return this.simd(SimdOp.f32x4_max);
  }
  /** f32x4.pmin: pops a, b; pushes b < a ? b : a per lane. */
  f32x4Pmin(): this {
    return this.simd(SimdOp.f32x4_pmin);
  }
  /** f32x4.pmax: pops a, b; pushes a < b ? b : a per lane. */
  f32x4Pmax(): this {
    return this.simd(SimdOp.f32x4_pmax);
  }
  f64x2Add(): this {
    return this.simd(SimdOp.f64x2_add);
  }
  f64x2Sub(): this {
    return this.simd(SimdOp.f64x2_sub);
  }
  f64x2Mul(): this {
    return this.simd(SimdOp.f64x2_mul);
  }
  i32x4TruncSatF32x4S(): this {
    return this.simd(SimdOp.i32x4_trunc_sat_f32x4_s);
  }
  f32x4ConvertI32x4S(): this {
    return this.simd(SimdOp.f32x4_convert_i32x4_s);
  }

  // --- structured helpers

  /**
   * `for (i = start; i < end; i += step) body()` over signed i32s. `start` and `end` push one i32
   * each. Inside `body`, depth 0 is the loop (continue) and depth 1 exits the loop (break).
   */
  forRange(i: Local, start: () => void, end: () => void, step: number, body: () => void): this {
    start();
    this.set(i);
    return this.block(() => {
      this.loop(() => {
        this.get(i);
        end();
        this.i32GeS().brIf(1);
        body();
        this.get(i).i32Const(step).i32Add().set(i);
        this.br(0);
      });
    });
  }

  /** Encoded body: local declarations (run-length grouped by type), code, `end`. */
  encode(): number[] {
    const groups: number[][] = [];
    let i = 0;
    while (i < this.localTypes.length) {
      const type = this.localTypes[i]!;
      let j = i;
      while (j < this.localTypes.length && this.localTypes[j] === type) j++;
      groups.push([...uleb(j - i), type]);
      i = j;
    }
    const body = [...vec(groups), ...this.code, Op.end];
    return [...uleb(body.length), ...body];
  }
}

// ---------------------------------------------------------------------------------------------
// Modules

export interface MemoryImport {
  module: string;
  name: string;
  /** Minimum pages the imported memory must have. */
  minPages: number;
  /** Maximum pages (required for shared memories). */
  maxPages?: number;
  shared?: boolean;
}

export interface ModuleSpec {
  memory?: MemoryImport;
  functions: readonly FunctionBuilder[];
  /** Export name -> index into `functions`. */
  exports: Readonly<Record<string, number>>;
}

function typeKey(params: readonly Local[], results: readonly ValType[]): string {
  return `${params.map((p) => p.type).join(",")}->${results.join(",")}`;
}

/** Assembles a module: type, import (memory), function, export and code sections. */
export function encodeModule(spec: ModuleSpec): Uint8Array<ArrayBuffer> {
  const bytes: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

  // Deduplicated function types.
  const typeIndex = new Map<string, number>();
  const types: number[][] = [];
  const funcTypes: number[] = [];
  for (const f of spec.functions) {
    const key = typeKey(f.params, f.results);
    let idx = typeIndex.get(key);
    if (idx === undefined) {
      idx = types.length;
      typeIndex.set(key, idx);
      types.push([0x60, ...vec(f.params.map((p) => [p.type])), ...vec(f.results.map((r) => [r]))]);
    }
    funcTypes.push(idx);
  }
  bytes.push(...section(1, vec(types)));

  if (spec.memory) {
    const m = spec.memory;
    if (m.shared && m.maxPages === undefined) throw new RangeError("shared memory import needs maxPages");
    const flags = (m.maxPages !== undefined ? 1 : 0) | (m.shared ? 2 : 0);
    const limits = [flags, ...uleb(m.minPages), ...(m.maxPages !== undefined ? uleb(m.maxPages) : [])];
    const entry = [...utf8(m.module), ...utf8(m.name), 0x02, ...limits];
    bytes.push(...section(2, vec([entry])));
  }

  bytes.push(...section(3, vec(funcTypes.map((t) => uleb(t)))));

  const exportEntries = Object.entries(spec.exports).map(([name, index]) => {
    if (index < 0 || index >= spec.functions.length) throw new RangeError(`export ${name}: bad index ${index}`);
    return [...utf8(name), 0x00, ...uleb(index)];
  });
  bytes.push(...section(7, vec(exportEntries)));

  bytes.push(...section(10, vec(spec.functions.map((f) => f.encode()))));
  return new Uint8Array(bytes);
}
