/**
 * The backward of gelu_new on the WebAssembly SIMD128 kernel of gelu-backward-kernel.ts. On a
 * {@link MemoryWorkspace}'s memory it works on the workspace's views in place and copies other
 * arrays (see kernel-memory.ts).
 */
import { InputError } from "../../errors.ts";
import { generateGeluBackwardModule, type GeluBackwardExports } from "./kernels/gelu-backward-kernel.ts";
import type { MemoryWorkspace } from "./memory-workspace.ts";
import { kernelMemory } from "./kernel-memory.ts";
import { isSharedBuffer, webAssembly } from "./wasm-api.ts";
import { wasmSimdSupported } from "./simd-support.ts";

export type WasmGeluBackward = (pre: Float32Array, dPost: Float32Array, out: Float32Array) => void;

const LANES = 4;

/** Throws unless the three arrays have one length. */
export function checkGeluBackward(pre: Float32Array, dPost: Float32Array, out: Float32Array): void {
  if (dPost.length !== pre.length || out.length !== pre.length) {
    throw new InputError(`geluNewBackward: pre ${pre.length}, dPost ${dPost.length} and out ${out.length} values differ`, "shape_mismatch");
  }
}

/** The kernel on `workspace`'s memory, or on its own memory without one; null without wasm SIMD. */
export function createWasmGeluBackward(workspace?: MemoryWorkspace): WasmGeluBackward | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const { memory, chunked } = kernelMemory(wa, workspace);
  const bytes = generateGeluBackwardModule({ sharedMemory: isSharedBuffer(memory.buffer) });
  const kernel = new wa.Instance(new wa.Module(bytes), { env: { memory } }).exports as unknown as GeluBackwardExports;
  const tail = new Float32Array(3 * LANES);
  return (pre, dPost, out) => {
    checkGeluBackward(pre, dPost, out);
    const n = pre.length;
    const vectors = Math.floor(n / LANES);
    const body = vectors * LANES;
    // Inputs are copied (or read in place) a vector-row at a time; rows of 4 floats.
    if (vectors > 0) {
      const src = [pre.subarray(0, body), dPost.subarray(0, body)] as const;
      chunked(vectors, [[src[0], LANES], [src[1], LANES]], [[out.subarray(0, body), LANES]], ([p, g, d], rows) => kernel.geluBackward(p!, g!, d!, rows));
    }
    if (body < n) {
      tail.fill(0);
      tail.set(pre.subarray(body), 0);
      tail.set(dPost.subarray(body), LANES);
      chunked(1, [[tail.subarray(0, LANES), LANES], [tail.subarray(LANES, 2 * LANES), LANES]], [[tail.subarray(2 * LANES), LANES]],
        ([p, g, d], rows) => kernel.geluBackward(p!, g!, d!, rows));
      out.set(tail.subarray(2 * LANES, 2 * LANES + n - body), body);
    }
  };
}
