/**
 * Generates a WebAssembly SIMD128 module for the backward of causal self-attention, one (batch,
 * head) plane after another over planes [plane0, plane0 + planes) (plane = b·nHeads + h), so a
 * worker pool can split the planes (row jobs whose rows are planes). Layouts as the forward's
 * (attention-kernel.ts): q, dQ, dz rows (pos of them) and k, v, dK, dV rows (keys of them) hold
 * dHead floats at a row stride of nHeads·dHead floats ([batch, rows, head, d_head]); pattern,
 * dPattern and dScores planes are pos × keys, row-major. Queries sit at the last pos of the keys
 * positions (offset = keys − pos ≥ 0: query i sees keys j ≤ i + offset). Pointers are byte
 * addresses into the imported shared memory "env"."memory", 4-byte aligned.
 *
 * - `mixBackwardPlanes(dz, pattern, v, dPattern, dV, plane0, planes, pos, keys, nHeads, dHead, maskedToo)`:
 *   dPattern[i, j] = dz_i·v_j for the keys query i sees (all keys when maskedToo ≠ 0; else 0 after
 *   them) and dV_j = Σ_i pattern[i, j]·dz_i over the same (i, j), zero weights skipped.
 * - `scoresBackwardPlanes(dScores, q, k, dQ, dK, plane0, planes, pos, keys, nHeads, dHead)`:
 *   with s = f32(1/√dHead), dQ_i = Σ_j s·dScores[i, j]·k_j and dK_j = Σ_i s·dScores[i, j]·q_i,
 *   zero entries skipped (masked ones must be zero).
 * - `softmaxBackwardRows(pattern, dPattern, out, rows, keys)`: per row,
 *   out = pattern ⊙ (dPattern − Σ pattern·dPattern); out may equal dPattern.
 *
 * Each plane writes only its own dPattern/dScores plane and its head's columns of dV, dQ, dK
 * (which it zeroes first), so planes can run on any threads in any order with the same results.
 * Float32 arithmetic; dot products accumulate in four lanes, then across them.
 */
import { FunctionBuilder, ValType, encodeModule, type Local } from "../assembler/wasm-writer.ts";
import { RowOps } from "./row-ops.ts";

const { i32, f32, v128 } = ValType;

/** The exports of an instantiated module; pointers are byte addresses. */
export interface AttentionBackwardExports {
  mixBackwardPlanes(dz: number, pattern: number, v: number, dPattern: number, dV: number, plane0: number, planes: number,
    pos: number, keys: number, nHeads: number, dHead: number, maskedToo: number): void;
  scoresBackwardPlanes(dScores: number, q: number, k: number, dQ: number, dK: number, plane0: number, planes: number,
    pos: number, keys: number, nHeads: number, dHead: number): void;
  softmaxBackwardRows(pattern: number, dPattern: number, out: number, rows: number, keys: number): void;
}

export type AttentionBackwardFunction = keyof AttentionBackwardExports;

/** Per-plane addressing: the plane's pattern-shaped planes and its head's rows. */
interface PlaneFrame {
  readonly f: FunctionBuilder;
  readonly plane: Local;
  readonly pos: Local;
  readonly keys: Local;
  readonly ld: Local;
  readonly batch: Local;
  readonly headBytes: Local;
}

/** Pushes base + batch·rows·ld + the head's columns. */
function rowsOf(p: PlaneFrame, base: Local, rows: Local): void {
  p.f.get(base).get(p.batch).get(rows).i32Mul().get(p.ld).i32Mul().i32Add().get(p.headBytes).i32Add();
}

/** Pushes base + plane·pos·keys·4. */
function planeOf(p: PlaneFrame, base: Local): void {
  p.f.get(base).get(p.plane).get(p.pos).i32Mul().get(p.keys).i32Mul().i32Const(2).i32Shl().i32Add();
}

/** The loop over planes [plane0, plane0 + planes) with the frame's locals set for each. */
function planeLoop(f: FunctionBuilder, plane0: Local, planes: Local, pos: Local, keys: Local, nHeads: Local, dHead: Local,
  body: (p: PlaneFrame) => void): void {
  const p: PlaneFrame = { f, plane: f.local(i32), pos, keys, ld: f.local(i32), batch: f.local(i32), headBytes: f.local(i32) };
  f.get(nHeads).get(dHead).i32Mul().i32Const(2).i32Shl().set(p.ld);
  f.forRange(p.plane, () => f.get(plane0), () => f.get(plane0).get(planes).i32Add(), 1, () => {
    f.get(p.plane).get(nHeads).i32DivU().set(p.batch);
    f.get(p.plane).get(p.batch).get(nHeads).i32Mul().i32Sub().get(dHead).i32Mul().i32Const(2).i32Shl().set(p.headBytes);
    body(p);
  });
}

/** Zeroes `rows` rows of dHead floats from `base` at stride ld. */
function zeroRows(f: FunctionBuilder, ops: RowOps, base: Local, rows: Local, ld: Local, row: Local, ptr: Local): void {
  f.forRange(row, () => f.i32Const(0), () => f.get(rows), 1, () => {
    f.get(base).get(row).get(ld).i32Mul().i32Add().set(ptr);
    ops.zero(ptr);
  });
}

function mixBackward(): FunctionBuilder {
  const f = new FunctionBuilder(Array.from({ length: 12 }, () => i32));
  const [dz, pattern, v, dPattern, dV, plane0, planes, pos, keys, nHeads, dHead, maskedToo] = f.params;
  const ops = new RowOps(f, dHead);
  const [dzB, pB, vB, dpB, dvB, i, j, limit, zRow, vRow, dvRow, cell] = Array.from({ length: 12 }, () => f.local(i32));
  const [w, dotOut] = [f.local(f32), f.local(f32)];
  ops.init();
  planeLoop(f, plane0, planes, pos, keys, nHeads, dHead, (p) => {
    rowsOf(p, dz, pos);
    f.set(dzB);
    planeOf(p, pattern);
    f.set(pB);
    rowsOf(p, v, keys);
    f.set(vB);
    planeOf(p, dPattern);
    f.set(dpB);
    rowsOf(p, dV, keys);
    f.set(dvB);
    zeroRows(f, ops, dvB, keys, p.ld, i, dvRow);
    f.forRange(i, () => f.i32Const(0), () => f.get(pos), 1, () => {
      // limit = maskedToo ? keys : min(keys, i + keys − pos + 1)
      f.get(i).get(keys).i32Add().get(pos).i32Sub().i32Const(1).i32Add().tee(limit);
      f.get(keys);
      f.get(limit).get(keys).i32LtS().get(maskedToo).i32Eqz().i32And();
      f.select().set(limit);
      f.get(dzB).get(i).get(p.ld).i32Mul().i32Add().set(zRow);
      f.forRange(j, () => f.i32Const(0), () => f.get(keys), 1, () => {
        f.get(i).get(keys).i32Mul().get(j).i32Add().i32Const(2).i32Shl().set(cell);
        f.block(() => {
          f.block(() => {
            f.get(j).get(limit).i32GeS().brIf(0);
            f.get(vB).get(j).get(p.ld).i32Mul().i32Add().set(vRow);
            f.get(dpB).get(cell).i32Add();
            ops.dot(zRow, vRow, dotOut);
            f.f32Store();
            f.get(pB).get(cell).i32Add().f32Load().tee(w).f32Const(0).f32Eq().brIf(1);
            f.get(dvB).get(j).get(p.ld).i32Mul().i32Add().set(dvRow);
            ops.axpy(dvRow, zRow, w);
            f.br(1);
          });
          f.get(dpB).get(cell).i32Add().f32Const(0).f32Store();
        });
      });
    });
  });
  return f;
}

function scoresBackward(): FunctionBuilder {
  const f = new FunctionBuilder(Array.from({ length: 11 }, () => i32));
  const [dScores, q, k, dQ, dK, plane0, planes, pos, keys, nHeads, dHead] = f.params;
  const ops = new RowOps(f, dHead);
  const [dsB, qB, kB, dqB, dkB, i, j, row, ptr, qRow, kRow, dqRow, dkRow] = Array.from({ length: 13 }, () => f.local(i32));
  const [w, scale] = [f.local(f32), f.local(f32)];
  ops.init();
  // As JavaScript's 1 / Math.sqrt(dHead) rounded to f32 (both correctly rounded).
  f.f64Const(1).get(dHead).f64ConvertI32U().f64Sqrt().f64Div().f32DemoteF64().set(scale);
  planeLoop(f, plane0, planes, pos, keys, nHeads, dHead, (p) => {
    planeOf(p, dScores);
    f.set(dsB);
    rowsOf(p, q, pos);
    f.set(qB);
    rowsOf(p, k, keys);
    f.set(kB);
    rowsOf(p, dQ, pos);
    f.set(dqB);
    rowsOf(p, dK, keys);
    f.set(dkB);
    zeroRows(f, ops, dqB, pos, p.ld, row, ptr);
    zeroRows(f, ops, dkB, keys, p.ld, row, ptr);
    f.forRange(i, () => f.i32Const(0), () => f.get(pos), 1, () => {
      f.get(qB).get(i).get(p.ld).i32Mul().i32Add().set(qRow);
      f.get(dqB).get(i).get(p.ld).i32Mul().i32Add().set(dqRow);
      f.forRange(j, () => f.i32Const(0), () => f.get(keys), 1, () => {
        f.block(() => {
          f.get(dsB).get(i).get(keys).i32Mul().get(j).i32Add().i32Const(2).i32Shl().i32Add().f32Load().tee(w);
          f.f32Const(0).f32Eq().brIf(0);
          f.get(w).get(scale).f32Mul().set(w);
          f.get(kB).get(j).get(p.ld).i32Mul().i32Add().set(kRow);
          f.get(dkB).get(j).get(p.ld).i32Mul().i32Add().set(dkRow);
          ops.axpy(dqRow, kRow, w);
          ops.axpy(dkRow, qRow, w);
        });
      });
    });
  });
  return f;
}

function softmaxBackwardRows(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32]);
  const [pattern, dPattern, out, rows, keys] = f.params;
  const ops = new RowOps(f, keys);
  const [row, pRow, gRow, oRow, j, cell] = Array.from({ length: 6 }, () => f.local(i32));
  const dot = f.local(f32);
  ops.init();
  f.forRange(row, () => f.i32Const(0), () => f.get(rows), 1, () => {
    f.get(row).get(keys).i32Mul().i32Const(2).i32Shl().set(cell);
    f.get(pattern).get(cell).i32Add().set(pRow);
    f.get(dPattern).get(cell).i32Add().set(gRow);
    f.get(out).get(cell).i32Add().set(oRow);
    ops.dot(pRow, gRow, dot);
    f.set(dot);
    f.forRange(j, () => f.i32Const(0), () => f.get(keys), 1, () => {
      f.get(j).i32Const(2).i32Shl().set(cell);
      f.get(oRow).get(cell).i32Add();
      f.get(pRow).get(cell).i32Add().f32Load();
      f.get(gRow).get(cell).i32Add().f32Load().get(dot).f32Sub().f32Mul();
      f.f32Store();
    });
  });
  return f;
}

/** Generates the module bytes (importing a shared memory). */
export function generateAttentionBackwardModule(): Uint8Array<ArrayBuffer> {
  return encodeModule({
    memory: { module: "env", name: "memory", minPages: 0, maxPages: 65536, shared: true },
    functions: [mixBackward(), scoresBackward(), softmaxBackwardRows()],
    exports: { mixBackwardPlanes: 0, scoresBackwardPlanes: 1, softmaxBackwardRows: 2 },
  });
}
