/**
 * Generates a WebAssembly SIMD128 module for the two batched small matrix products of causal
 * self-attention, one (batch, head) plane per call:
 *
 * - `scoresPlane(q, k, out, pos, keys, dHead, ld, scale, scratch)`: out[i, j] = scale · q_i·k_j
 *   for j ≤ i + (keys − pos), −∞ otherwise. q rows (pos of them) and k rows (keys) hold dHead
 *   floats each at a row stride of `ld` BYTES (the [batch, pos, head, d_head] layout with ld =
 *   nHeads·dHead·4); out is the plane's pos × keys floats, row-major (stride keys).
 * - `mixPlane(p, v, z, pos, keys, dHead, ld, scratch)`: z_i = Σ_j p[i, j] · v_j, with zero weights
 *   skipped exactly (a 0 weight never meets the v row, so 0 · ∞ never makes a NaN). p is the
 *   plane's pos × keys pattern (row-major), v rows (keys) and z rows (pos) have dHead floats at row
 *   stride `ld` bytes. Every z entry of the plane is written.
 *
 * All pointers are byte addresses into the imported memory "env"."memory" (4-byte aligned;
 * `scratch` 16-byte aligned with {@link attentionScratchFloats} floats).
 *
 * Both are GEMMs on a 4×8 register tile (the GEMM micro-kernel of gemm-kernel.ts, 8 f32x4
 * accumulators): scores = Q·Kᵀ with Kᵀ packed into 8-key panels (panel p: dHead rows of 8 keys,
 * zero-padded past `keys`) and each 4-query tile of Q packed e-major (Q[r, e] at [e·4 + r]);
 * mix = P·V with V packed into 8-wide panels of d_head (keys rows each) and each 4-row tile of P
 * packed j-major. Accumulation is float32, in index order along the inner dimension.
 * Scores: key panels entirely past the causal limit of a tile's last row are skipped (filled with
 * −∞); full, unmasked tiles are stored straight to `out`, edge/diagonal tiles go through a 4×8
 * scratch tile and are copied out with the mask. Mix: each P tile's inner loop stops after the last
 * key with a nonzero weight in any of its rows (causal patterns: ~half the work); when the plane's
 * V has a non-finite value, a variant that masks out products of zero weights is used.
 */
import { FunctionBuilder, ValType, encodeModule, type Local } from "../assembler/wasm-writer.ts";

const { i32, f32, v128 } = ValType;

/** Rows per register tile. */
const MR = 4;
/** f32x4 vectors per register tile row. */
const V = 2;
/** Columns per register tile / packed panel. */
const NR = 4 * V;
/** Bytes of the edge tile at the start of scratch. */
const EDGE_BYTES = MR * NR * 4;
/** A column limit that never masks (mix edge tiles). */
const NO_LIMIT = 0x3fffffff;

/** The exports of an instantiated attention module. Pointers are byte addresses. */
export interface AttentionExports {
  scoresPlane(q: number, k: number, out: number, pos: number, keys: number, dHead: number, ld: number, scale: number, scratch: number): void;
  mixPlane(p: number, v: number, z: number, pos: number, keys: number, dHead: number, ld: number, scratch: number): void;
}

/** Floats of scratch (16-byte aligned) either plane function needs for these sizes. */
export function attentionScratchFloats(pos: number, keys: number, dHead: number): number {
  void pos;
  const scores = Math.ceil(keys / NR) * dHead * NR + dHead * MR;
  const mix = Math.ceil(dHead / NR) * keys * NR + keys * MR;
  return EDGE_BYTES / 4 + Math.max(scores, mix);
}

/**
 * micro(ap, bp, kc, c, ldc, scale): C[r, 0:8] = scale · Σ_{s<kc} A[s·4 + r] · B[s·8 + 0:8] for the
 * 4×8 tile at c (row stride ldc bytes). With `maskZeros`, products whose A value is ±0 are dropped
 * (so 0 · ∞ contributes nothing).
 */
function microKernel(maskZeros: boolean): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, f32]);
  const [ap, bp, kc, c, ldc, scale] = f.params;
  const bEnd = f.local(i32);
  const cp = f.local(i32);
  const acc: Local[][] = Array.from({ length: MR }, () => Array.from({ length: V }, () => f.local(v128)));
  const bv = Array.from({ length: V }, () => f.local(v128));
  const av = f.local(v128);
  const mask = f.local(v128);
  const zero = f.local(v128);
  const sv = f.local(v128);

  f.v128ConstF32x4([0, 0, 0, 0]).set(zero);
  for (const row of acc) for (const a of row) f.get(zero).set(a);
  f.get(bp).get(kc).i32Const(4 * NR).i32Mul().i32Add().set(bEnd);
  f.get(bp).get(bEnd).i32LtU().if_(() =>
    f.loop(() => {
      for (let v = 0; v < V; v++) f.get(bp).v128Load(16 * v, 4).set(bv[v]!);
      for (let r = 0; r < MR; r++) {
        f.get(ap).v128Load32Splat(4 * r).set(av);
        if (maskZeros) f.get(av).get(zero).f32x4Ne().set(mask);
        for (let v = 0; v < V; v++) {
          f.get(acc[r]![v]!).get(av).get(bv[v]!).f32x4Mul();
          if (maskZeros) f.get(mask).v128And();
          f.f32x4Add().set(acc[r]![v]!);
        }
      }
      f.get(bp).i32Const(4 * NR).i32Add().set(bp);
      f.get(ap).i32Const(4 * MR).i32Add().set(ap);
      f.get(bp).get(bEnd).i32LtU().brIf(0);
    }),
  );
  f.get(scale).f32x4Splat().set(sv);
  f.get(c).set(cp);
  for (let r = 0; r < MR; r++) {
    for (let v = 0; v < V; v++) f.get(cp).get(acc[r]![v]!).get(sv).f32x4Mul().v128Store(16 * v, 2);
    if (r + 1 < MR) f.get(cp).get(ldc).i32Add().set(cp);
  }
  return f;
}

/**
 * edgeCopy(tile, c, ldc, mr, nr, limit): C[r, jj] = jj ≤ limit + r ? tile[r·8 + jj] : −∞ for
 * r < mr, jj < nr (limit signed; C row stride ldc bytes).
 */
function edgeCopy(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32]);
  const [tile, c, ldc, mr, nr, limit] = f.params;
  const r = f.local(i32);
  const jj = f.local(i32);
  const crow = f.local(i32);
  const trow = f.local(i32);
  f.get(c).set(crow);
  f.get(tile).set(trow);
  f.forRange(r, () => f.i32Const(0), () => f.get(mr), 1, () => {
    f.forRange(jj, () => f.i32Const(0), () => f.get(nr), 1, () => {
      f.get(crow).get(jj).i32Const(2).i32Shl().i32Add();
      // select(tile value, −∞, jj ≤ limit + r)
      f.get(trow).get(jj).i32Const(2).i32Shl().i32Add().f32Load();
      f.f32Const(-Infinity);
      f.get(jj).get(limit).get(r).i32Add().i32LeS();
      f.select().f32Store();
    });
    f.get(crow).get(ldc).i32Add().set(crow);
    f.get(trow).i32Const(4 * NR).i32Add().set(trow);
  });
  return f;
}

/** Pushes min(c, x()) for a constant c and a signed i32 pusher x. */
function minConst(f: FunctionBuilder, c: number, x: () => void): void {
  x();
  f.i32Const(c);
  x();
  f.i32Const(c).i32LtS().select();
}

/** scoresPlane(q, k, out, pos, keys, dHead, ld, scale, scratch). */
function scoresPlane(microIdx: number, edgeIdx: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, f32, i32]);
  const [q, k, out, pos, keys, dHead, ld, scale, scratch] = f.params;
  const nPanels = f.local(i32);
  const packedK = f.local(i32);
  const packedQ = f.local(i32);
  const panelBytes = f.local(i32);
  const p = f.local(i32);
  const e = f.local(i32);
  const jj = f.local(i32);
  const r = f.local(i32);
  const s = f.local(i32);
  const d = f.local(i32);
  const x = f.local(f32);
  const i0 = f.local(i32);
  const mr = f.local(i32);
  const nr = f.local(i32);
  const j0 = f.local(i32);
  const rowLimit = f.local(i32);
  const crow = f.local(i32);
  const ldc = f.local(i32);
  const bp = f.local(i32);

  f.get(keys).i32Const(NR - 1).i32Add().i32Const(NR).i32DivU().set(nPanels);
  f.get(scratch).i32Const(EDGE_BYTES).i32Add().set(packedK);
  f.get(dHead).i32Const(4 * NR).i32Mul().set(panelBytes);
  f.get(packedK).get(nPanels).get(panelBytes).i32Mul().i32Add().set(packedQ);
  f.get(keys).i32Const(2).i32Shl().set(ldc);

  // Pack Kᵀ: packedK[(p·dHead + e)·8 + jj] = K[p·8 + jj, e] (0 past keys).
  f.get(packedK).set(d);
  f.forRange(p, () => f.i32Const(0), () => f.get(nPanels), 1, () => {
    f.forRange(e, () => f.i32Const(0), () => f.get(dHead), 1, () => {
      f.get(k).get(p).i32Const(NR).i32Mul().get(ld).i32Mul().i32Add().get(e).i32Const(2).i32Shl().i32Add().set(s);
      f.forRange(jj, () => f.i32Const(0), () => f.i32Const(NR), 1, () => {
        f.f32Const(0).set(x);
        f.get(p).i32Const(NR).i32Mul().get(jj).i32Add().get(keys).i32LtS().if_(() => {
          f.get(s).f32Load().set(x);
        });
        f.get(d).get(x).f32Store();
        f.get(d).i32Const(4).i32Add().set(d);
        f.get(s).get(ld).i32Add().set(s);
      });
    });
  });

  f.forRange(i0, () => f.i32Const(0), () => f.get(pos), MR, () => {
    // mr = min(4, pos − i0)
    minConst(f, MR, () => f.get(pos).get(i0).i32Sub());
    f.set(mr);
    // Pack the Q tile: packedQ[e·4 + r] = Q[i0 + r, e] (0 for r ≥ mr).
    f.get(packedQ).set(d);
    f.forRange(e, () => f.i32Const(0), () => f.get(dHead), 1, () => {
      f.get(q).get(i0).get(ld).i32Mul().i32Add().get(e).i32Const(2).i32Shl().i32Add().set(s);
      f.forRange(r, () => f.i32Const(0), () => f.i32Const(MR), 1, () => {
        f.f32Const(0).set(x);
        f.get(r).get(mr).i32LtS().if_(() => {
          f.get(s).f32Load().set(x);
        });
        f.get(d).get(x).f32Store();
        f.get(d).i32Const(4).i32Add().set(d);
        f.get(s).get(ld).i32Add().set(s);
      });
    });
    // Row i0 sees keys j ≤ rowLimit; row i0 + r sees j ≤ rowLimit + r.
    f.get(i0).get(keys).i32Add().get(pos).i32Sub().set(rowLimit);
    f.get(out).get(i0).get(ldc).i32Mul().i32Add().set(crow);
    f.i32Const(0).set(p);
    f.block(() => {
      f.loop(() => {
        f.get(p).i32Const(NR).i32Mul().set(j0);
        // while (p < nPanels && j0 ≤ rowLimit + mr − 1)
        f.get(p).get(nPanels).i32GeS().brIf(1);
        f.get(j0).get(rowLimit).get(mr).i32Add().i32Const(1).i32Sub().i32GtS().brIf(1);
        minConst(f, NR, () => f.get(keys).get(j0).i32Sub());
        f.set(nr);
        f.get(packedK).get(p).get(panelBytes).i32Mul().i32Add().set(bp);
        // Full and unmasked: mr = 4, nr = 8, j0 + 7 ≤ rowLimit.
        f.get(mr).i32Const(MR).i32Eq().get(nr).i32Const(NR).i32Eq().i32And();
        f.get(j0).i32Const(NR - 1).i32Add().get(rowLimit).i32LeS().i32And();
        f.if_(
          () => {
            f.get(packedQ).get(bp).get(dHead).get(crow).get(j0).i32Const(2).i32Shl().i32Add().get(ldc).get(scale).call(microIdx);
          },
          () => {
            f.get(packedQ).get(bp).get(dHead).get(scratch).i32Const(4 * NR).get(scale).call(microIdx);
            f.get(scratch).get(crow).get(j0).i32Const(2).i32Shl().i32Add().get(ldc).get(mr).get(nr);
            f.get(rowLimit).get(j0).i32Sub().call(edgeIdx);
          },
        );
        f.get(p).i32Const(1).i32Add().set(p);
        f.br(0);
      });
    });
    // Keys from j0 on are past every row's limit: −∞.
    f.forRange(r, () => f.i32Const(0), () => f.get(mr), 1, () => {
      f.get(crow).get(r).get(ldc).i32Mul().i32Add().set(d);
      f.forRange(jj, () => f.get(j0), () => f.get(keys), 1, () => {
        f.get(d).get(jj).i32Const(2).i32Shl().i32Add().f32Const(-Infinity).f32Store();
      });
    });
  });
  return f;
}

/** mixPlane(p, v, z, pos, keys, dHead, ld, scratch). */
function mixPlane(microIdx: number, maskedIdx: number, edgeIdx: number): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32]);
  const [pp, v, z, pos, keys, dHead, ld, scratch] = f.params;
  const nPanels = f.local(i32);
  const packedV = f.local(i32);
  const packedP = f.local(i32);
  const panelBytes = f.local(i32);
  const p = f.local(i32);
  const j = f.local(i32);
  const jj = f.local(i32);
  const r = f.local(i32);
  const s = f.local(i32);
  const d = f.local(i32);
  const x = f.local(f32);
  const bad = f.local(i32);
  const i0 = f.local(i32);
  const mr = f.local(i32);
  const nr = f.local(i32);
  const e0 = f.local(i32);
  const jEnd = f.local(i32);
  const crow = f.local(i32);
  const ldp = f.local(i32);

  f.get(dHead).i32Const(NR - 1).i32Add().i32Const(NR).i32DivU().set(nPanels);
  f.get(scratch).i32Const(EDGE_BYTES).i32Add().set(packedV);
  f.get(keys).i32Const(4 * NR).i32Mul().set(panelBytes);
  f.get(packedV).get(nPanels).get(panelBytes).i32Mul().i32Add().set(packedP);
  f.get(keys).i32Const(2).i32Shl().set(ldp);

  // Pack V: packedV[(p·keys + j)·8 + jj] = V[j, p·8 + jj] (0 past dHead); note non-finite values.
  f.i32Const(0).set(bad);
  f.get(packedV).set(d);
  f.forRange(p, () => f.i32Const(0), () => f.get(nPanels), 1, () => {
    f.forRange(j, () => f.i32Const(0), () => f.get(keys), 1, () => {
      f.get(v).get(j).get(ld).i32Mul().i32Add().get(p).i32Const(4 * NR).i32Mul().i32Add().set(s);
      f.forRange(jj, () => f.i32Const(0), () => f.i32Const(NR), 1, () => {
        f.f32Const(0).set(x);
        f.get(p).i32Const(NR).i32Mul().get(jj).i32Add().get(dHead).i32LtS().if_(() => {
          f.get(s).f32Load().set(x);
        });
        // x − x is NaN exactly for ±∞ and NaN.
        f.get(bad).get(x).get(x).f32Sub().get(x).get(x).f32Sub().f32Ne().i32Or().set(bad);
        f.get(d).get(x).f32Store();
        f.get(d).i32Const(4).i32Add().set(d);
        f.get(s).i32Const(4).i32Add().set(s);
      });
    });
  });

  f.forRange(i0, () => f.i32Const(0), () => f.get(pos), MR, () => {
    minConst(f, MR, () => f.get(pos).get(i0).i32Sub());
    f.set(mr);
    // Pack the P tile: packedP[j·4 + r] = P[i0 + r, j] (0 for r ≥ mr); jEnd = 1 + last nonzero j.
    f.i32Const(0).set(jEnd);
    f.get(packedP).set(d);
    f.forRange(j, () => f.i32Const(0), () => f.get(keys), 1, () => {
      f.get(pp).get(i0).get(ldp).i32Mul().i32Add().get(j).i32Const(2).i32Shl().i32Add().set(s);
      f.forRange(r, () => f.i32Const(0), () => f.i32Const(MR), 1, () => {
        f.f32Const(0).set(x);
        f.get(r).get(mr).i32LtS().if_(() => {
          f.get(s).f32Load().set(x);
        });
        f.get(x).f32Const(0).f32Ne().if_(() => {
          f.get(j).i32Const(1).i32Add().set(jEnd);
        });
        f.get(d).get(x).f32Store();
        f.get(d).i32Const(4).i32Add().set(d);
        f.get(s).get(ldp).i32Add().set(s);
      });
    });
    f.get(z).get(i0).get(ld).i32Mul().i32Add().set(crow);
    f.forRange(p, () => f.i32Const(0), () => f.get(nPanels), 1, () => {
      f.get(p).i32Const(NR).i32Mul().set(e0);
      minConst(f, NR, () => f.get(dHead).get(e0).i32Sub());
      f.set(nr);
      const callKernel = (c: () => void, ldc: () => void): void => {
        const call = (idx: number): void => {
          f.get(packedP).get(packedV).get(p).get(panelBytes).i32Mul().i32Add().get(jEnd);
          c();
          ldc();
          f.f32Const(1).call(idx);
        };
        f.get(bad).if_(() => call(maskedIdx), () => call(microIdx));
      };
      f.get(mr).i32Const(MR).i32Eq().get(nr).i32Const(NR).i32Eq().i32And().if_(
        () => callKernel(() => f.get(crow).get(e0).i32Const(2).i32Shl().i32Add(), () => f.get(ld)),
        () => {
          callKernel(() => f.get(scratch), () => f.i32Const(4 * NR));
          f.get(scratch).get(crow).get(e0).i32Const(2).i32Shl().i32Add().get(ld).get(mr).get(nr).i32Const(NO_LIMIT).call(edgeIdx);
        },
      );
    });
  });
  return f;
}

/** Indices of the plane functions among {@link attentionFunctions}. */
export const SCORES_PLANE = 3;
export const MIX_PLANE = 4;

/** The module's functions: micro, microMasked, edgeCopy, scoresPlane, mixPlane. */
export function attentionFunctions(): FunctionBuilder[] {
  return [microKernel(false), microKernel(true), edgeCopy(), scoresPlane(0, 2), mixPlane(0, 1, 2)];
}

/** Generates the module bytes. */
export function generateAttentionModule(): Uint8Array<ArrayBuffer> {
  return encodeModule({
    memory: { module: "env", name: "memory", minPages: 0 },
    functions: attentionFunctions(),
    exports: { scoresPlane: SCORES_PLANE, mixPlane: MIX_PLANE },
  });
}
