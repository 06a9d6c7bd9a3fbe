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
 * Algorithm: a register-tiled micro-kernel computes an MR×NR tile of C with MR·V f32x4
 * accumulators held in locals (V8 keeps them in xmm registers; ≤ 8 accumulators avoids spills on
 * x64). The k loop is unrolled by U with static memarg offsets. Around it, the driver blocks k into
 * chunks of KC (so a packed panel slice stays in L1) and rows into blocks of MC (so the A block
 * stays in L2), and walks panels in the middle loop. Edge tiles (m % MR rows are handled by
 * kernels generated for every row count 1..MR; the last partial panel goes through a small
 * scratch tile so nothing is ever written past column n.
 *
 * Exports
 * - `gemm(a, b, c, bias, m, n, k, flags, scratch)`
 * - `gemmRange(a, b, c, bias, m, n, k, flags, scratch, m0, m1, p0, p1)`: only rows [m0, m1)
 *   and panels [p0, p1) (columns [p0·NR, min(p1·NR, n))). Disjoint ranges write disjoint parts of
 *   C, so a worker pool can split work by panels (each worker needs its own scratch).
 * `flags` bit 0 = accumulate (C += A·B (+ bias)); otherwise C is overwritten. `scratch` points
 * to MR·NR floats of per-caller scratch space (16-byte aligned).
 */
import { FunctionBuilder, ValType, encodeModule, type Local } from "./wasm-writer.ts";

const { i32, v128 } = ValType;

export const GEMM_FLAG_ACCUMULATE = 1;

export interface GemmKernelOptions {
  /** Rows per register tile (default 4). */
  mr?: number;
  /** f32x4 vectors per register tile row (default 2, so panel width NR = 8). */
  vectors?: number;
  /** k-loop unroll factor (default 4). */
  unroll?: number;
  /** k block size in elements (default 256). */
  kc?: number;
  /** Row block size (default 96, rounded to a multiple of mr). */
  mc?: number;
  /** Import a shared memory (must match the memory you link against). */
  sharedMemory?: boolean;
  /** Use relaxed-SIMD f32x4.relaxed_madd (results may then differ in the last bit across CPUs). */
  relaxedSimd?: boolean;
}

export interface GemmKernelLayout {
  /** Rows per register tile. */
  readonly mr: number;
  /** Panel width of packed B (floats). */
  readonly nr: number;
  /** Floats of scratch each concurrent caller needs. */
  readonly scratchFloats: number;
}

export interface GemmKernelModule extends GemmKernelLayout {
  readonly bytes: Uint8Array<ArrayBuffer>;
}

/** The exports of an instantiated GEMM module. Pointers are byte addresses. */
export interface GemmExports {
  gemm(a: number, b: number, c: number, bias: number, m: number, n: number, k: number, flags: number, scratch: number): void;
  gemmRange(
    a: number, b: number, c: number, bias: number, m: number, n: number, k: number, flags: number, scratch: number,
    m0: number, m1: number, p0: number, p1: number,
  ): void;
}

/** Number of panels for n columns at panel width nr. */
export function panelCount(n: number, nr: number): number {
  return Math.ceil(n / nr);
}

/** Floats needed to hold B[k,n] packed at panel width nr. */
export function packedLength(k: number, n: number, nr: number): number {
  return panelCount(n, nr) * k * nr;
}

/**
 * Micro-kernel for an mr×NR tile: (a, lda, b, c, ldc, kc, bias, flags), strides in bytes.
 * Computes C_tile (=|+=) A_tile[:, 0:kc] · Bpanel[0:kc, :] (+ bias).
 */
function microKernel(mr: number, V: number, U: number, relaxed: boolean): FunctionBuilder {
  const NR = 4 * V;
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32]);
  const [a, lda, b, c, ldc, kc, bias, flags] = f.params;
  const ap: Local[] = [];
  for (let i = 0; i < mr; i++) ap.push(f.local(i32));
  const cp = f.local(i32);
  const cnt = f.local(i32);
  const acc: Local[][] = [];
  for (let i = 0; i < mr; i++) acc.push(Array.from({ length: V }, () => f.local(v128)));
  const bv = Array.from({ length: V }, () => f.local(v128));
  const av = f.local(v128);

  // Row pointers into A.
  f.get(a).set(ap[0]!);
  for (let i = 1; i < mr; i++) f.get(ap[i - 1]!).get(lda).i32Add().set(ap[i]!);

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
    for (let v = 0; v < V; v++) f.get(b).v128Load(4 * (u * NR + 4 * v)).set(bv[v]!);
    for (let i = 0; i < mr; i++) {
      f.get(ap[i]!).v128Load32Splat(4 * u).set(av);
      for (let v = 0; v < V; v++) {
        if (relaxed) f.get(av).get(bv[v]!).get(acc[i]![v]!).f32x4RelaxedMadd();
        else f.get(acc[i]![v]!).get(av).get(bv[v]!).f32x4Mul().f32x4Add();
        f.set(acc[i]![v]!);
      }
    }
  };
  /** Advance all pointers by `steps` k steps and decrement the counter. */
  const advance = (steps: number): void => {
    f.get(b).i32Const(4 * NR * steps).i32Add().set(b);
    for (let i = 0; i < mr; i++) f.get(ap[i]!).i32Const(4 * steps).i32Add().set(ap[i]!);
    f.get(cnt).i32Const(steps).i32Sub().set(cnt);
  };

  f.get(kc).set(cnt);
  if (U > 1) {
    f.block(() =>
      f.loop(() => {
        f.get(cnt).i32Const(U).i32LtS().brIf(1);
        for (let u = 0; u < U; u++) step(u);
        advance(U);
        f.br(0);
      }),
    );
  }
  f.block(() =>
    f.loop(() => {
      f.get(cnt).i32Const(0).i32LeS().brIf(1);
      step(0);
      advance(1);
      f.br(0);
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
 * tile(a, lda, b, c, ldc, kc, bias, flags, mr, nr, scratch): one mr×nr tile (mr ≤ MR, nr ≤ NR),
 * dispatching to the right micro-kernel and routing partial panels through scratch.
 */
function tileFunction(MR: number, NR: number, kernelIndex: (mr: number) => number, edgeInIdx: number, edgeOutIdx: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [a, lda, b, c, ldc, kc, bias, flags, mr, nr, scratch] = f.params;
  const dispatch = (cPtr: Local, ldcV: () => void, biasV: () => void, flagsV: () => void): void => {
    for (let rows = MR; rows >= 1; rows--) {
      const callKernel = (): void => {
        f.get(a).get(lda).get(b).get(cPtr);
        ldcV();
        f.get(kc);
        biasV();
        flagsV();
        f.call(kernelIndex(rows));
      };
      if (rows === 1) {
        callKernel();
      } else {
        f.get(mr).i32Const(rows).i32Eq().if_(() => {
          callKernel();
          f.return_();
        });
      }
    }
  };
  f.get(nr).i32Const(NR).i32Eq().if_(() => {
    dispatch(c, () => f.get(ldc), () => f.get(bias), () => f.get(flags));
    f.return_();
  });
  // Partial panel: scratch <- C/bias prefix, accumulate into scratch, copy the nr valid columns back.
  f.get(c).get(ldc).get(bias).get(flags).get(scratch).get(mr).get(nr).call(edgeInIdx);
  f.block(() => {
    // dispatch() returns from the function; wrap it so control continues to edgeOut instead.
    for (let rows = MR; rows >= 1; rows--) {
      f.get(mr).i32Const(rows).i32Eq().if_(() => {
        f.get(a).get(lda).get(b).get(scratch).i32Const(4 * NR).get(kc).i32Const(0).i32Const(GEMM_FLAG_ACCUMULATE);
        f.call(kernelIndex(rows));
        f.br(1);
      });
    }
  });
  f.get(scratch).get(c).get(ldc).get(mr).get(nr).call(edgeOutIdx);
  return f;
}

/**
 * gemmRange(a, b, c, bias, m, n, k, flags, scratch, m0, m1, p0, p1). Loop nest:
 * k blocks (KC) → row blocks (MC) → panels → MR-row tiles.
 */
function gemmRangeFunction(MR: number, NR: number, KC: number, MC: number, tileIdx: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [a, b, c, bias, , n, k, flags, scratch, m0, m1, p0, p1] = f.params;
  const k0 = f.local(i32);
  const kc = f.local(i32);
  const kFlags = f.local(i32);
  const kBias = f.local(i32);
  const i0 = f.local(i32);
  const iEnd = f.local(i32);
  const p = f.local(i32);
  const i = f.local(i32);
  const j0 = f.local(i32);
  const nr = f.local(i32);
  const mr = f.local(i32);
  const bp = f.local(i32);
  const lda = f.local(i32);
  const ldc = f.local(i32);

  /** Pushes min(x, y) of two signed i32 pushers. */
  const min = (x: () => void, y: () => void): void => {
    x();
    y();
    x();
    y();
    f.i32LtS().select();
  };

  f.get(k).i32Const(2).i32Shl().set(lda);
  f.get(n).i32Const(2).i32Shl().set(ldc);
  f.i32Const(0).set(k0);
  // do { ... } while (k0 < k): one pass even when k = 0 so C still gets bias / zeros.
  f.loop(() => {
    min(() => f.i32Const(KC), () => f.get(k).get(k0).i32Sub());
    f.set(kc);
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
    f.forRange(i0, () => f.get(m0), () => f.get(m1), MC, () => {
      min(() => f.get(i0).i32Const(MC).i32Add(), () => f.get(m1));
      f.set(iEnd);
      f.forRange(p, () => f.get(p0), () => f.get(p1), 1, () => {
        f.get(p).i32Const(NR).i32Mul().set(j0);
        min(() => f.i32Const(NR), () => f.get(n).get(j0).i32Sub());
        f.set(nr);
        // bp = b + (p·k + k0)·NR·4
        f.get(b).get(p).get(k).i32Mul().get(k0).i32Add().i32Const(4 * NR).i32Mul().i32Add().set(bp);
        f.forRange(i, () => f.get(i0), () => f.get(iEnd), MR, () => {
          min(() => f.i32Const(MR), () => f.get(iEnd).get(i).i32Sub());
          f.set(mr);
          // a + (i·k + k0)·4
          f.get(a).get(i).get(k).i32Mul().get(k0).i32Add().i32Const(2).i32Shl().i32Add();
          f.get(lda).get(bp);
          // c + (i·n + j0)·4
          f.get(c).get(i).get(n).i32Mul().get(j0).i32Add().i32Const(2).i32Shl().i32Add();
          f.get(ldc).get(kc);
          // bias + j0·4 (or 0)
          f.get(kBias).get(j0).i32Const(2).i32Shl().i32Add().i32Const(0).get(kBias).select();
          f.get(kFlags).get(mr).get(nr).get(scratch);
          f.call(tileIdx);
        });
      });
    });
    f.get(k0).i32Const(KC).i32Add().tee(k0).get(k).i32LtS().brIf(0);
  });
  return f;
}

/** gemm(a, b, c, bias, m, n, k, flags, scratch) = gemmRange over everything. */
function gemmFunction(NR: number, rangeIdx: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [a, b, c, bias, m, n, k, flags, scratch] = f.params;
  f.get(a).get(b).get(c).get(bias).get(m).get(n).get(k).get(flags).get(scratch);
  f.i32Const(0).get(m).i32Const(0);
  // ceil(n / NR)
  f.get(n).i32Const(NR - 1).i32Add().i32Const(NR).i32DivU();
  f.call(rangeIdx);
  return f;
}

/** Generates the module bytes for the given tiling. */
export function generateGemmModule(options: GemmKernelOptions = {}): GemmKernelModule {
  const MR = options.mr ?? 4;
  const V = options.vectors ?? 2;
  const U = options.unroll ?? 4;
  const KC = options.kc ?? 256;
  const NR = 4 * V;
  const MC = Math.max(MR, Math.floor((options.mc ?? 96) / MR) * MR);
  for (const [name, v, lo, hi] of [["mr", MR, 1, 16], ["vectors", V, 1, 8], ["unroll", U, 1, 32], ["kc", KC, 1, 1 << 24]] as const) {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`gemm kernel option ${name}=${v} not in [${lo}, ${hi}]`);
  }
  const relaxed = options.relaxedSimd ?? false;

  // Function index plan: kernels 1..MR, edgeIn, edgeOut, tile, gemmRange, gemm.
  const kernelIndex = (rows: number): number => rows - 1;
  const edgeInIdx = MR;
  const edgeOutIdx = MR + 1;
  const tileIdx = MR + 2;
  const rangeIdx = MR + 3;
  const gemmIdx = MR + 4;

  const functions: FunctionBuilder[] = [];
  for (let rows = 1; rows <= MR; rows++) functions.push(microKernel(rows, V, U, relaxed));
  functions.push(edgeIn(NR), edgeOut(NR), tileFunction(MR, NR, kernelIndex, edgeInIdx, edgeOutIdx));
  functions.push(gemmRangeFunction(MR, NR, KC, MC, tileIdx), gemmFunction(NR, rangeIdx));

  const shared = options.sharedMemory ?? false;
  const bytes = encodeModule({
    memory: { module: "env", name: "memory", minPages: 0, ...(shared ? { maxPages: 65536, shared: true } : {}) },
    functions,
    exports: { gemm: gemmIdx, gemmRange: rangeIdx },
  });
  return { bytes, mr: MR, nr: NR, scratchFloats: MR * NR };
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
