/**
 * Generates the WebAssembly SIMD GEMM module: C[m,n] (=|+=) A[m,k] · B[k,n] (+ bias[n]).
 *
 * Layout
 * - A: row-major, row stride k floats (any m, k).
 * - B: pre-packed into column panels of width NR (= 4·V floats): panel p holds columns
 *   [p·NR, p·NR+NR) as k consecutive rows of NR floats, i.e. packed[(p·k + kk)·NR + j] =
 *   B[kk, p·NR + j], zero-padded past n. See {@link packedLength}.
 * - C: row-major, row stride n floats. bias (optional, pointer 0 = none): n floats.
 * All pointers are byte addresses into the imported memory ("env"."memory").
 *
 * Algorithm (GotoBLAS-style, one thread):
 *   for each k block of ≤ KC                       (default KC = 4096, so usually one block)
 *     for each row block of ≤ mc rows              (mc: a run-time argument; the packed A block,
 *       pack A block into scratch, tile by tile     mc·kc floats, stays in L2; each tile is one
 *                                                   contiguous stream)
 *       for each panel p (NR = 8 columns)          (the panel's kc×NR slice, 24 KiB at k = 768,
 *         for each row tile (≤ MR rows, 6 or 4)     stays in L1 across the block's tiles)
 *           micro-kernel: MR×NR tile of C in MR·V f32x4 accumulators (8 for 4×8)
 * Every row block streams all of (the k block of) B, so the caller picks mc per call
 * ({@link rowBlockRows}): 48 rows where B stays cached, up to 256 (packed A ≤ 768 KiB) where B
 * is streamed from memory, e.g. the unembedding. The row blocking never changes any output
 * element's k summation, so results are bit-identical for every mc.
 * The micro-kernel's k loop does, per k step: V v128 loads of B, MR load32_splats of A (or, with
 * splatFromVector, ⌈MR / 4⌉ loads and shuffles) and MR·V f32x4.mul + f32x4.add pairs (relaxed_madd
 * with relaxedSimd), advancing two pointers. It is deliberately NOT unrolled by default:
 * V8's TurboFan hoists all loads of an unrolled body to the top, which needs more than 16 xmm
 * registers and spills (measured: unroll 2 / 4 cost ~20% / ~35%). More than ~10 accumulators spill
 * too. Each k step also touches the same row of the next panel (a dropped i32.load; wasm has no
 * prefetch) so the next panel streams in from memory while this one computes — this matters when
 * m is small and B is huge (the 50257-column unembedding).
 *
 * Edges: a row block is cut into ⌈rows / MR⌉ near-equal tiles (13 rows → 4+3+3+3 rather than
 * 4+4+4+1; kernels are generated for every height 1..MR). The last, partial panel (n % NR) goes
 * through an MR×NR scratch tile (prefilled from C/bias, copied back column by column), so nothing
 * past column n is ever read from C/bias or written.
 *
 * Exports
 * - `gemm(a, b, c, bias, m, n, k, flags, scratch, mc)`
 * - `gemmRange(a, b, c, bias, m, n, k, flags, scratch, mc, m0, m1, p0, p1)`: only rows [m0, m1)
 *   and panels [p0, p1) (columns [p0·NR, min(p1·NR, n))); requires 0 ≤ m0 ≤ m1 ≤ m and
 *   0 ≤ p0 ≤ p1 ≤ ⌈n / NR⌉ (not checked). Row blocks start at m0. Disjoint ranges write disjoint
 *   parts of C, so a worker pool can split work by panels or rows (each concurrent caller needs
 *   its own scratch).
 * `flags` bit 0 = accumulate: C += A·B (+ bias); otherwise C = A·B (+ bias). `mc` = rows per row
 * block (mc < 1 is taken as MR). `scratch` points to {@link scratchFloats}(layout, k) floats of
 * per-caller scratch space, which holds row blocks of up to {@link maxRowBlock}(layout, k, n)
 * rows for any n (not checked: a larger mc overruns it).
 */
import { FunctionBuilder, ValType, encodeModule, type Local } from "../assembler/wasm-writer.ts";

const { i32, v128 } = ValType;

export const GEMM_FLAG_ACCUMULATE = 1;

export interface GemmKernelOptions {
  /** Rows per register tile (default 6 with relaxedSimd and plain splats, else 4). */
  mr?: number;
  /** f32x4 vectors per register tile row (default 2, so panel width NR = 8). */
  vectors?: number;
  /** k-loop unroll factor (default 1; see above). */
  unroll?: number;
  /** k block size in elements (default 4096: one packed panel slice streams from L1/L2). */
  kc?: number;
  /**
   * A fixed row block size for every call (rounded to a multiple of mr; for benchmarks and tests).
   * Default: chosen per call from k, see {@link rowBlockRows}.
   */
  mc?: number;
  /** Touch the next packed panel while computing the current one (default: true, except under Deno). */
  prefetch?: boolean;
  /** Import a shared memory (must match the memory you link against). */
  sharedMemory?: boolean;
  /** Use relaxed-SIMD f32x4.relaxed_madd (results may then differ in the last bit across CPUs). */
  relaxedSimd?: boolean;
  /**
   * Load a k step's A values four rows at a time (one v128 load, a load64_zero for a last pair, a
   * load32_splat for a lone last row) and broadcast each lane with a shuffle, instead of MR
   * load32_splats: fewer memory accesses, which pays off where every access is bounds-checked
   * (engines without a wasm trap handler, e.g. Deno). Default: on under Deno (4×8 FMA: 32 → 45
   * GFLOP/s there; 6×8 FMA: 33 → 36), off elsewhere (Node, plain 4×8: 40 → 32; 6×8 FMA: 51 → 37).
   */
  splatFromVector?: boolean;
}

export interface GemmKernelLayout {
  /** Rows per register tile. */
  readonly mr: number;
  /** Panel width of packed B (floats). */
  readonly nr: number;
  /** k block size. */
  readonly kc: number;
  /** The fixed row block size, if the kernel options set one; absent: adaptive ({@link rowBlockRows}). */
  readonly mc?: number;
}

export interface GemmKernelModule extends GemmKernelLayout {
  readonly bytes: Uint8Array<ArrayBuffer>;
}

/** The exports of an instantiated GEMM module. Pointers are byte addresses. */
export interface GemmExports {
  gemm(a: number, b: number, c: number, bias: number, m: number, n: number, k: number, flags: number, scratch: number, mc: number): void;
  gemmRange(
    a: number, b: number, c: number, bias: number, m: number, n: number, k: number, flags: number, scratch: number, mc: number,
    m0: number, m1: number, p0: number, p1: number,
  ): void;
}

/*
 * Row blocks (measured with bench/gemm-mc.ts, one thread, 48 KiB L1d / 2 MiB L2). Each row block
 * streams the whole (k block of) packed B once, so where B is too large for the caches (the
 * 50257-column unembedding: 154 MB) more rows per block pay: 416×768·768×50257 goes from 37.6
 * (48 rows) to 42.6 GFLOP/s (2 × 208), likewise from k = 128 up and for n ≥ 4096 at k = 768.
 * Where B stays cached (n = 2304 or 3072 at k = 768) more rows gain nothing or lose 1–2 %, and
 * at k = 3072 (packed A competing for L2) or k = 64 (short tiles, C writes dominate) they lose
 * 5–10 %: 48 rows there.
 */
/** Row block where packed B stays cached or k is short (rounded down to a multiple of mr). */
export const SMALL_ROW_BLOCK = 48;
/** Packed B (one k block, kc·n floats) of at least this many bytes counts as streamed from memory. */
export const STREAMED_B_BYTES = 12 * 1024 * 1024;
/** ... and k of at least this much: below, a tile's k loop is too short to pay for more rows. */
export const STREAMED_B_MIN_K = 128;
/** Bytes of packed A a row block may fill when B is streamed: stays well inside a 2 MiB L2. */
export const ROW_BLOCK_BYTES = 768 * 1024;
/** Upper bound on the row block when B is streamed, in rows. */
export const MAX_ROW_BLOCK = 256;

const roundDown = (x: number, mr: number): number => Math.max(mr, Math.floor(x / mr) * mr);

/** The largest row block any call at inner dimension k may get (sizes the scratch). */
function rowBlockBound(layout: GemmKernelLayout, k: number): number {
  if (layout.mc !== undefined) return layout.mc;
  const { mr } = layout;
  if (k < STREAMED_B_MIN_K) return roundDown(SMALL_ROW_BLOCK, mr);
  const kc = Math.min(Math.max(k, 1), layout.kc);
  const fit = Math.min(Math.floor(ROW_BLOCK_BYTES / (4 * kc)), MAX_ROW_BLOCK);
  return Math.max(roundDown(SMALL_ROW_BLOCK, mr), roundDown(fit, mr));
}

/**
 * The most rows a row block gets for B[k, n]: the fixed `mc` if the kernel has one; else, when B
 * is streamed from memory (one k block of it at least {@link STREAMED_B_BYTES} and k ≥
 * {@link STREAMED_B_MIN_K}), the rows whose packed A (rows × min(k, KC) floats) fills
 * {@link ROW_BLOCK_BYTES}, at most {@link MAX_ROW_BLOCK}; otherwise {@link SMALL_ROW_BLOCK}
 * (never fewer). Always a multiple of mr.
 */
export function maxRowBlock(layout: GemmKernelLayout, k: number, n: number): number {
  if (layout.mc !== undefined) return layout.mc;
  const streamed = 4 * Math.min(k, layout.kc) * n >= STREAMED_B_BYTES;
  return streamed ? rowBlockBound(layout, k) : roundDown(SMALL_ROW_BLOCK, layout.mr);
}

/**
 * The row block (the kernel's `mc` argument) for C[m, n] = A[m, k] · B[k, n]: the fixed `mc` if
 * the kernel has one, else m cut into ⌈m / max⌉ near-equal blocks rounded up to a multiple of mr,
 * max = {@link maxRowBlock} (416 rows at max 256 → 2 × 208, not 256 + 160: the same number of B
 * streams, each over more rows). Row blocking never changes any output element's k summation.
 */
export function rowBlockRows(layout: GemmKernelLayout, k: number, n: number, m: number): number {
  const max = maxRowBlock(layout, k, n);
  if (layout.mc !== undefined || m <= 0) return max;
  const blocks = Math.ceil(m / max);
  return Math.min(max, Math.ceil(Math.ceil(m / blocks) / layout.mr) * layout.mr);
}

/**
 * Floats of scratch a caller must pass for inner dimension k: one MR×NR edge tile followed by the
 * packed A block (rows × min(k, KC)) and {@link A_READ_SLACK_FLOATS}, enough for the largest row
 * block {@link maxRowBlock} gives at this k for any n. Each concurrent caller needs its own.
 */
export function scratchFloats(layout: GemmKernelLayout, k: number): number {
  return layout.mr * layout.nr + rowBlockBound(layout, k) * Math.min(Math.max(k, 1), layout.kc) + A_READ_SLACK_FLOATS;
}

/**
 * Floats past the packed A block the kernel may read (and ignore): with splatFromVector, three
 * rows left at the end of a tile (MR = 3, 7, ...) are one v128 load, one float beyond the tile's
 * last k step. The slack keeps that read inside the caller's scratch (and the memory).
 */
const A_READ_SLACK_FLOATS = 4;

/** Number of panels for n columns at panel width nr. */
export function panelCount(n: number, nr: number): number {
  return Math.ceil(n / nr);
}

/** Floats needed to hold B[k,n] packed at panel width nr. */
export function packedLength(k: number, n: number, nr: number): number {
  return panelCount(n, nr) * k * nr;
}

/**
 * Micro-kernel for an mr×NR tile (mr ≤ MR): (ap, b, c, ldc, kc, bias, flags, pfDelta); ldc in bytes,
 * pfDelta = byte distance from `b` to the same row of the panel to touch (0 = this one).
 * `ap` points at a packed A tile (kc steps of MR floats: A[r, kk] at ap[kk·MR + r]; only the
 * first mr rows are read), `b` at kc rows of a packed panel (NR floats each).
 * Computes C_tile (=|+=) A_tile · B_panel (+ bias).
 */
/** Deno's V8 runs wasm without a trap handler, so every memory access carries an explicit bounds check. */
function everyAccessBoundsChecked(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
}

/** i8x16.shuffle byte indices broadcasting f32 lane i. */
const LANE_SPLAT = [0, 1, 2, 3].map((lane) => Array.from({ length: 16 }, (_, b) => 4 * lane + (b % 4)));

function microKernel(
  mr: number, MR: number, V: number, U: number, relaxed: boolean, prefetch: boolean, splatFromVector = false,
): FunctionBuilder {
  const NR = 4 * V;
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32]);
  const [ap, b, c, ldc, kc, bias, flags, pfDelta] = f.params;
  const cp = f.local(i32);
  const bEnd = f.local(i32);
  const bUnrolledEnd = f.local(i32);
  const acc: Local[][] = [];
  for (let i = 0; i < mr; i++) acc.push(Array.from({ length: V }, () => f.local(v128)));
  const bv = Array.from({ length: V }, () => f.local(v128));
  const av = f.local(v128);
  const aRow = f.local(v128);

  // Accumulators start from C (accumulate) or zero ...
  f.get(flags).i32Const(GEMM_FLAG_ACCUMULATE).i32And().if_(
    () => {
      f.get(c).set(cp);
      for (let i = 0; i < mr; i++) {
        for (let v = 0; v < V; v++) f.get(cp).v128Load(16 * v, 2).set(acc[i]![v]!);
        if (i + 1 < mr) f.get(cp).get(ldc).i32Add().set(cp);
      }
    },
    () => {
      for (let i = 0; i < mr; i++) for (let v = 0; v < V; v++) f.v128ConstF32x4([0, 0, 0, 0]).set(acc[i]![v]!);
    },
  );
  // ... plus the bias row.
  f.get(bias).if_(() => {
    for (let v = 0; v < V; v++) f.get(bias).v128Load(16 * v, 2).set(bv[v]!);
    for (let i = 0; i < mr; i++) for (let v = 0; v < V; v++) f.get(acc[i]![v]!).get(bv[v]!).f32x4Add().set(acc[i]![v]!);
  });

  /** One k step at unrolled position u: acc[i][v] += A[i, u] * B[u, v-th vector]. */
  const step = (u: number): void => {
    // Touch the same row of the next panel (b + pfDelta) so it streams in from memory while this
    // panel computes out of L1 (wasm has no prefetch instruction; the load result is dropped).
    if (prefetch) f.get(b).get(pfDelta).i32Add().i32Load(4 * u * NR).drop();
    for (let v = 0; v < V; v++) f.get(b).v128Load(4 * (u * NR + 4 * v)).set(bv[v]!);
    for (let i = 0; i < mr; i++) {
      const at = 4 * (u * MR + i);
      // Shuffle splats: rows i..i+3 (i = 0, 4, ...) come from one load, made as narrow as the
      // rows left in the tile allow; a lone row is a load32_splat, which needs no shuffle.
      const chunk = Math.min(MR - (i - (i % 4)), 4);
      if (!splatFromVector || chunk === 1) f.get(ap).v128Load32Splat(at).set(av);
      else {
        if (i % 4 === 0) {
          if (chunk === 2) f.get(ap).v128Load64Zero(at, 2).set(aRow);
          else f.get(ap).v128Load(at, 2).set(aRow);
        }
        f.get(aRow).get(aRow).i8x16Shuffle(LANE_SPLAT[i % 4]!).set(av);
      }
      for (let v = 0; v < V; v++) {
        if (relaxed) f.get(av).get(bv[v]!).get(acc[i]![v]!).f32x4RelaxedMadd();
        else f.get(acc[i]![v]!).get(av).get(bv[v]!).f32x4Mul().f32x4Add();
        f.set(acc[i]![v]!);
      }
    }
  };
  /** Advance both pointers by `steps` k steps. */
  const advance = (steps: number): void => {
    f.get(b).i32Const(4 * NR * steps).i32Add().set(b);
    f.get(ap).i32Const(4 * MR * steps).i32Add().set(ap);
  };

  // bEnd = b + kc·NR·4; the loops run while b < bEnd (one compare per iteration).
  f.get(b).get(kc).i32Const(4 * NR).i32Mul().i32Add().set(bEnd);
  if (U > 1) {
    // bUnrolledEnd = b + (kc - kc % U)·NR·4
    f.get(b).get(kc).get(kc).i32Const(U).i32RemU().i32Sub().i32Const(4 * NR).i32Mul().i32Add().set(bUnrolledEnd);
    f.get(b).get(bUnrolledEnd).i32LtU().if_(() =>
      f.loop(() => {
        for (let u = 0; u < U; u++) step(u);
        advance(U);
        f.get(b).get(bUnrolledEnd).i32LtU().brIf(0);
      }),
    );
  }
  f.get(b).get(bEnd).i32LtU().if_(() =>
    f.loop(() => {
      step(0);
      advance(1);
      f.get(b).get(bEnd).i32LtU().brIf(0);
    }),
  );

  // Store the tile.
  f.get(c).set(cp);
  for (let i = 0; i < mr; i++) {
    for (let v = 0; v < V; v++) f.get(cp).get(acc[i]![v]!).v128Store(16 * v, 2);
    if (i + 1 < mr) f.get(cp).get(ldc).i32Add().set(cp);
  }
  return f;
}

/**
 * packA(a, lda, mr, kc, dst): copies one tile A[0:mr, 0:kc] (row stride lda bytes) into the packed
 * layout the micro-kernel reads: A[r, kk] at dst[kk·MR + r] (rows ≥ mr are left untouched).
 */
function packAFunction(MR: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32]);
  const [a, lda, mr, kc, dst] = f.params;
  const r = f.local(i32);
  const s = f.local(i32);
  const sEnd = f.local(i32);
  const d = f.local(i32);
  f.forRange(r, () => f.i32Const(0), () => f.get(mr), 1, () => {
    f.get(a).get(r).get(lda).i32Mul().i32Add().tee(s);
    f.get(kc).i32Const(2).i32Shl().i32Add().set(sEnd);
    f.get(dst).get(r).i32Const(2).i32Shl().i32Add().set(d);
    f.get(s).get(sEnd).i32LtU().if_(() =>
      f.loop(() => {
        f.get(d).get(s).f32Load().f32Store();
        f.get(s).i32Const(4).i32Add().set(s);
        f.get(d).i32Const(4 * MR).i32Add().set(d);
        f.get(s).get(sEnd).i32LtU().brIf(0);
      }),
    );
  });
  return f;
}

/**
 * edgeIn(c, ldc, bias, flags, scratch, mr, nr): scratch[r, j] = (accumulate ? C[r, j] : 0) +
 * (bias ? bias[j] : 0) for j < nr, 0 for nr ≤ j < NR (scratch row stride NR floats).
 */
function edgeIn(NR: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32]);
  const [c, ldc, bias, flags, scratch, mr, nr] = f.params;
  const r = f.local(i32);
  const j = f.local(i32);
  const crow = f.local(i32);
  const srow = f.local(i32);
  const v = f.local(ValType.f32);
  f.get(c).set(crow);
  f.get(scratch).set(srow);
  f.forRange(r, () => f.i32Const(0), () => f.get(mr), 1, () => {
    f.forRange(j, () => f.i32Const(0), () => f.i32Const(NR), 1, () => {
      f.f32Const(0).set(v);
      f.get(j).get(nr).i32LtS().if_(() => {
        f.get(flags).i32Const(GEMM_FLAG_ACCUMULATE).i32And().if_(() => {
          f.get(crow).get(j).i32Const(2).i32Shl().i32Add().f32Load().set(v);
        });
        f.get(bias).if_(() => {
          f.get(v).get(bias).get(j).i32Const(2).i32Shl().i32Add().f32Load().f32Add().set(v);
        });
      });
      f.get(srow).get(j).i32Const(2).i32Shl().i32Add().get(v).f32Store();
    });
    f.get(crow).get(ldc).i32Add().set(crow);
    f.get(srow).i32Const(4 * NR).i32Add().set(srow);
  });
  return f;
}

/** edgeOut(scratch, c, ldc, mr, nr): C[r, j] = scratch[r, j] for r < mr, j < nr. */
function edgeOut(NR: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32]);
  const [scratch, c, ldc, mr, nr] = f.params;
  const r = f.local(i32);
  const j = f.local(i32);
  const crow = f.local(i32);
  const srow = f.local(i32);
  f.get(c).set(crow);
  f.get(scratch).set(srow);
  f.forRange(r, () => f.i32Const(0), () => f.get(mr), 1, () => {
    f.forRange(j, () => f.i32Const(0), () => f.get(nr), 1, () => {
      f.get(crow).get(j).i32Const(2).i32Shl().i32Add();
      f.get(srow).get(j).i32Const(2).i32Shl().i32Add().f32Load();
      f.f32Store();
    });
    f.get(crow).get(ldc).i32Add().set(crow);
    f.get(srow).i32Const(4 * NR).i32Add().set(srow);
  });
  return f;
}

/**
 * tile(ap, b, c, ldc, kc, bias, flags, mr, nr, scratch): one mr×nr tile (mr ≤ MR, nr ≤ NR),
 * dispatching to the right micro-kernel and routing partial panels through the scratch tile.
 */
function tileFunction(MR: number, NR: number, kernelIndex: (mr: number) => number, edgeInIdx: number, edgeOutIdx: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [ap, b, c, ldc, kc, bias, flags, mr, nr, scratch, pfDelta] = f.params;
  /** Calls kernel(mr) with the given C, ldc, bias and flags, then leaves block `exitDepth`. */
  const dispatch = (args: () => void, exitDepth: number): void => {
    for (let rows = MR; rows >= 1; rows--) {
      f.get(mr).i32Const(rows).i32Eq().if_(() => {
        args();
        f.get(pfDelta).call(kernelIndex(rows));
        f.br(exitDepth + 1);
      });
    }
  };
  f.get(nr).i32Const(NR).i32Eq().if_(() => {
    f.block(() => dispatch(() => f.get(ap).get(b).get(c).get(ldc).get(kc).get(bias).get(flags), 0));
    f.return_();
  });
  // Partial panel: scratch <- C/bias prefix, accumulate into scratch, copy the nr valid columns back.
  f.get(c).get(ldc).get(bias).get(flags).get(scratch).get(mr).get(nr).call(edgeInIdx);
  f.block(() =>
    dispatch(() => f.get(ap).get(b).get(scratch).i32Const(4 * NR).get(kc).i32Const(0).i32Const(GEMM_FLAG_ACCUMULATE), 0),
  );
  f.get(scratch).get(c).get(ldc).get(mr).get(nr).call(edgeOutIdx);
  return f;
}

/**
 * gemmRange(a, b, c, bias, m, n, k, flags, scratch, mc, m0, m1, p0, p1). Loop nest:
 * k blocks (KC) → row blocks (≤ mc rows; A block packed into scratch) → panels → row tiles.
 * A row block of `rows` rows is cut into T = ⌈rows / MR⌉ tiles of near-equal height (13 rows →
 * 4+3+3+3 rather than 4+4+4+1: a 1-row tile would be latency-bound on its two accumulators).
 */
function gemmRangeFunction(MR: number, NR: number, KC: number, tileIdx: number, packAIdx: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [a, b, c, bias, , n, k, flags, scratch, mc, m0, m1, p0, p1] = f.params;
  const k0 = f.local(i32);
  const kc = f.local(i32);
  const kFlags = f.local(i32);
  const kBias = f.local(i32);
  const i0 = f.local(i32);
  const rows = f.local(i32);
  const tiles = f.local(i32);
  const base = f.local(i32);
  const extra = f.local(i32);
  const t = f.local(i32);
  const mr = f.local(i32);
  const p = f.local(i32);
  const j0 = f.local(i32);
  const nr = f.local(i32);
  const bp = f.local(i32);
  const ap = f.local(i32);
  const aSrc = f.local(i32);
  const cp = f.local(i32);
  const biasP = f.local(i32);
  const lda = f.local(i32);
  const ldc = f.local(i32);
  const aPack = f.local(i32);
  const tileBytes = f.local(i32);
  const pfDelta = f.local(i32);

  /** Pushes min(x, y) of two signed i32 pushers. */
  const min = (x: () => void, y: () => void): void => {
    x();
    y();
    x();
    y();
    f.i32LtS().select();
  };
  /** mr = base + (t < extra): height of tile t. */
  const tileHeight = (): void => {
    f.get(base).get(t).get(extra).i32LtS().i32Add().set(mr);
  };

  // A row block of mc < 1 rows would never advance: take MR (scratch always holds that many).
  f.get(mc).i32Const(MR).get(mc).i32Const(0).i32GtS().select().set(mc);
  f.get(k).i32Const(2).i32Shl().set(lda);
  f.get(n).i32Const(2).i32Shl().set(ldc);
  f.get(scratch).i32Const(4 * MR * NR).i32Add().set(aPack);
  f.i32Const(0).set(k0);
  // do { ... } while (k0 < k): one pass even when k = 0 so C still gets bias / zeros.
  f.loop(() => {
    min(() => f.i32Const(KC), () => f.get(k).get(k0).i32Sub());
    f.set(kc);
    f.get(kc).i32Const(4 * MR).i32Mul().set(tileBytes);
    // Only the first k block applies the caller's flags and bias; later blocks accumulate.
    f.get(k0).if_(
      () => {
        f.i32Const(GEMM_FLAG_ACCUMULATE).set(kFlags);
        f.i32Const(0).set(kBias);
      },
      () => {
        f.get(flags).set(kFlags);
        f.get(bias).set(kBias);
      },
    );
    // for (i0 = m0; i0 < m1; i0 += rows), rows = min(mc, m1 - i0)
    f.get(m0).set(i0);
    f.block(() => f.loop(() => {
      f.get(i0).get(m1).i32GeS().brIf(1);
      min(() => f.get(mc), () => f.get(m1).get(i0).i32Sub());
      f.set(rows);
      f.get(rows).i32Const(MR - 1).i32Add().i32Const(MR).i32DivU().set(tiles);
      f.get(rows).get(tiles).i32DivU().set(base);
      f.get(rows).get(base).get(tiles).i32Mul().i32Sub().set(extra);
      // Pack the row block, tile by tile: packA(a + (i0·k + k0)·4 + rowOffset·lda, lda, mr, kc, aPack + t·tileBytes).
      f.get(a).get(i0).get(k).i32Mul().get(k0).i32Add().i32Const(2).i32Shl().i32Add().set(aSrc);
      f.get(aPack).set(ap);
      f.forRange(t, () => f.i32Const(0), () => f.get(tiles), 1, () => {
        tileHeight();
        f.get(aSrc).get(lda).get(mr).get(kc).get(ap).call(packAIdx);
        f.get(aSrc).get(mr).get(lda).i32Mul().i32Add().set(aSrc);
        f.get(ap).get(tileBytes).i32Add().set(ap);
      });
      f.forRange(p, () => f.get(p0), () => f.get(p1), 1, () => {
        f.get(p).i32Const(NR).i32Mul().set(j0);
        min(() => f.i32Const(NR), () => f.get(n).get(j0).i32Sub());
        f.set(nr);
        // bp = b + (p·k + k0)·NR·4
        f.get(b).get(p).get(k).i32Mul().get(k0).i32Add().i32Const(4 * NR).i32Mul().i32Add().set(bp);
        // cp = c + (i0·n + j0)·4
        f.get(c).get(i0).get(n).i32Mul().get(j0).i32Add().i32Const(2).i32Shl().i32Add().set(cp);
        // biasP = kBias ? kBias + j0·4 : 0
        f.get(kBias).get(j0).i32Const(2).i32Shl().i32Add().i32Const(0).get(kBias).select().set(biasP);
        // pfDelta = p + 1 < p1 ? k·NR·4 (the next panel) : 0
        f.get(k).i32Const(4 * NR).i32Mul().i32Const(0).get(p).i32Const(1).i32Add().get(p1).i32LtS().select().set(pfDelta);
        f.get(aPack).set(ap);
        f.forRange(t, () => f.i32Const(0), () => f.get(tiles), 1, () => {
          tileHeight();
          f.get(ap).get(bp).get(cp).get(ldc).get(kc).get(biasP).get(kFlags).get(mr).get(nr).get(scratch).get(pfDelta).call(tileIdx);
          f.get(ap).get(tileBytes).i32Add().set(ap);
          f.get(cp).get(ldc).get(mr).i32Mul().i32Add().set(cp);
        });
      });
      f.get(i0).get(rows).i32Add().set(i0);
      f.br(0);
    }));
    f.get(k0).i32Const(KC).i32Add().tee(k0).get(k).i32LtS().brIf(0);
  });
  return f;
}

/** gemm(a, b, c, bias, m, n, k, flags, scratch, mc) = gemmRange over everything. */
function gemmFunction(NR: number, rangeIdx: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [a, b, c, bias, m, n, k, flags, scratch, mc] = f.params;
  f.get(a).get(b).get(c).get(bias).get(m).get(n).get(k).get(flags).get(scratch).get(mc);
  f.i32Const(0).get(m).i32Const(0);
  // ceil(n / NR)
  f.get(n).i32Const(NR - 1).i32Add().i32Const(NR).i32DivU();
  f.call(rangeIdx);
  return f;
}

/**
 * Rows of the default register tile. With fused multiply-adds no vector is needed for the product,
 * so 6×8 (12 accumulators, 2 B vectors, 1 A splat) fits the 15 registers V8 allocates: measured
 * 39 → 51 GFLOP/s per thread against 4×8 without FMA (Node 20, AVX-512 Xeon; 44 with FMA at 4×8).
 * Without FMA, 6×8 spills and 4×8 stays best. With shuffle splats (Deno) the loaded A vector is
 * one more live register, so 6×8 spills there: measured with FMA under Deno 2.9 (416×768·768×2304,
 * 490×768·768×50257, 1024×768·768×3072) 4×8 44–46 GFLOP/s, 5×8 41–42, 6×8 36–37, 8×8 39–40.
 */
function defaultTileRows(relaxed: boolean, splatFromVector: boolean): number {
  return relaxed && !splatFromVector ? 6 : 4;
}

/** Generates the module bytes for the given tiling. */
export function generateGemmModule(options: GemmKernelOptions = {}): GemmKernelModule {
  const relaxed = options.relaxedSimd ?? false;
  const splatFromVector = options.splatFromVector ?? everyAccessBoundsChecked();
  const MR = options.mr ?? defaultTileRows(relaxed, splatFromVector);
  const V = options.vectors ?? 2;
  const U = options.unroll ?? 1;
  const KC = options.kc ?? 4096;
  const NR = 4 * V;
  const MC = options.mc === undefined ? undefined : Math.max(MR, Math.floor(options.mc / MR) * MR);
  const checked = [["mr", MR, 1, 16], ["vectors", V, 1, 8], ["unroll", U, 1, 32], ["kc", KC, 1, 1 << 24], ["mc", options.mc ?? 1, 1, 1 << 24]] as const;
  for (const [name, v, lo, hi] of checked) {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`gemm kernel option ${name}=${v} not in [${lo}, ${hi}]`);
  }
  // Under Deno the dropped touch-load is one more bounds check per k step: measured a wash or worse there.
  const prefetch = options.prefetch ?? !everyAccessBoundsChecked();

  // Function index plan: kernels 1..MR, edgeIn, edgeOut, packA, tile, gemmRange, gemm.
  const kernelIndex = (rows: number): number => rows - 1;
  const edgeInIdx = MR;
  const edgeOutIdx = MR + 1;
  const packAIdx = MR + 2;
  const tileIdx = MR + 3;
  const rangeIdx = MR + 4;
  const gemmIdx = MR + 5;

  const functions: FunctionBuilder[] = [];
  for (let rows = 1; rows <= MR; rows++) functions.push(microKernel(rows, MR, V, U, relaxed, prefetch, splatFromVector));
  functions.push(edgeIn(NR), edgeOut(NR), packAFunction(MR), tileFunction(MR, NR, kernelIndex, edgeInIdx, edgeOutIdx));
  functions.push(gemmRangeFunction(MR, NR, KC, tileIdx, packAIdx), gemmFunction(NR, rangeIdx));

  const shared = options.sharedMemory ?? false;
  const bytes = encodeModule({
    memory: { module: "env", name: "memory", minPages: 0, ...(shared ? { maxPages: 65536, shared: true } : {}) },
    functions,
    exports: { gemm: gemmIdx, gemmRange: rangeIdx },
  });
  return { bytes, mr: MR, nr: NR, kc: KC, ...(MC === undefined ? {} : { mc: MC }) };
}

/** A minimal module that uses one SIMD128 instruction: validates iff the engine has SIMD. */
export function simdProbeModule(): Uint8Array<ArrayBuffer> {
  const f = new FunctionBuilder([], [ValType.f32]);
  f.v128ConstF32x4([1, 2, 3, 4]).v128ConstF32x4([1, 1, 1, 1]).f32x4Mul().f32x4ExtractLane(0);
  return encodeModule({ functions: [f], exports: { probe: 0 } });
}

/** A minimal module using f32x4.relaxed_madd: validates iff the engine has relaxed SIMD. */
export function relaxedSimdProbeModule(): Uint8Array<ArrayBuffer> {
  const f = new FunctionBuilder([], [ValType.f32]);
  f.v128ConstF32x4([1, 2, 3, 4]).v128ConstF32x4([1, 1, 1, 1]).v128ConstF32x4([0, 0, 0, 0]).f32x4RelaxedMadd().f32x4ExtractLane(0);
  return encodeModule({ functions: [f], exports: { probe: 0 } });
}
