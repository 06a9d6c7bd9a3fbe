/**
 * The attention kernels of attention-kernel.ts as row jobs of a WasmThreadPool (pool-attention.ts),
 * whose rows are (batch, head) planes: a module on a shared memory with two more exports, each
 * calling the plane function for planes [plane0, plane0 + planes) with the plane's addresses
 * (plane = b·nHeads + h; layouts as in wasm-attention.ts, pointers are byte addresses):
 *
 * - `scoresPlanes(q, k, out, plane0, planes, pos, keys, nHeads, dHead, scratch)`
 * - `mixPlanes(pattern, v, z, plane0, planes, pos, keys, nHeads, dHead, scratch)`
 *
 * `scratch` holds attentionScratchFloats(pos, keys, dHead) floats. Each plane is computed by the
 * same code as WasmAttention's calls, with the same scale f32(1/√dHead), so results are equal bit
 * for bit whatever the split. A plane reads only its q/k/v columns and pattern plane, and writes
 * only its out plane or its z columns, plus the scratch.
 */
import { attentionFunctions, MIX_PLANE, SCORES_PLANE } from "./attention-kernel.ts";
import { FunctionBuilder, ValType, encodeModule, type Local } from "../assembler/wasm-writer.ts";

const { i32, f32 } = ValType;

export type PlaneFunction = "scoresPlanes" | "mixPlanes";

function planeLoop(name: PlaneFunction): FunctionBuilder {
  const f = new FunctionBuilder(Array.from({ length: 10 }, () => i32));
  const [a, b, c, plane0, planes, pos, keys, nHeads, dHead, scratch] = f.params;
  const ld = f.local(i32);
  const plane = f.local(i32);
  const batch = f.local(i32);
  const headBytes = f.local(i32);
  const scale = f.local(f32);
  f.get(nHeads).get(dHead).i32Mul().i32Const(2).i32Shl().set(ld);
  // As JavaScript's 1 / Math.sqrt(dHead) passed to an f32 parameter (both correctly rounded).
  f.f64Const(1).get(dHead).f64ConvertI32U().f64Sqrt().f64Div().f32DemoteF64().set(scale);
  f.forRange(plane, () => f.get(plane0), () => f.get(plane0).get(planes).i32Add(), 1, () => {
    f.get(plane).get(nHeads).i32DivU().set(batch);
    f.get(plane).get(batch).get(nHeads).i32Mul().i32Sub().get(dHead).i32Mul().i32Const(2).i32Shl().set(headBytes);
    /** base + batch·rows·ld + the head's columns. */
    const rowsOf = (base: Local, rows: Local): void => {
      f.get(base).get(batch).get(rows).i32Mul().get(ld).i32Mul().i32Add().get(headBytes).i32Add();
    };
    const planeOf = (base: Local): void => {
      f.get(base).get(plane).get(pos).i32Mul().get(keys).i32Mul().i32Const(2).i32Shl().i32Add();
    };
    if (name === "scoresPlanes") {
      rowsOf(a, pos);
      rowsOf(b, keys);
      planeOf(c);
      f.get(pos).get(keys).get(dHead).get(ld).get(scale).get(scratch).call(SCORES_PLANE);
    } else {
      planeOf(a);
      rowsOf(b, keys);
      rowsOf(c, pos);
      f.get(pos).get(keys).get(dHead).get(ld).get(scratch).call(MIX_PLANE);
    }
  });
  return f;
}

/** Generates the module bytes (importing a shared memory). */
export function generateAttentionPlanesModule(): Uint8Array<ArrayBuffer> {
  const functions = attentionFunctions();
  const scores = functions.push(planeLoop("scoresPlanes")) - 1;
  const mix = functions.push(planeLoop("mixPlanes")) - 1;
  return encodeModule({
    memory: { module: "env", name: "memory", minPages: 0, maxPages: 65536, shared: true },
    functions,
    exports: { scoresPlanes: scores, mixPlanes: mix },
  });
}
