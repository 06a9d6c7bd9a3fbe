/**
 * x += y on the WebAssembly SIMD128 kernel of add-kernel.ts (bit-identical to the plain loop). On a
 * {@link MemoryWorkspace}'s memory it works on the workspace's views in place and copies other
 * arrays (see kernel-memory.ts).
 */
import { InputError } from "../../errors.ts";
import { generateAddModule, type AddExports } from "./kernels/add-kernel.ts";
import type { MemoryWorkspace } from "./memory-workspace.ts";
import { kernelMemory } from "./kernel-memory.ts";
import { isSharedBuffer, overlapsPartially, webAssembly } from "./wasm-api.ts";
import { wasmSimdSupported } from "./simd-support.ts";

export type WasmAddInPlace = (x: Float32Array, y: Float32Array) => void;

/** The add kernel on `workspace`'s memory, or on its own memory without one; null without wasm SIMD. */
export function createWasmAddInPlace(workspace?: MemoryWorkspace): WasmAddInPlace | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const { memory, chunked } = kernelMemory(wa, workspace);
  const bytes = generateAddModule({ sharedMemory: isSharedBuffer(memory.buffer) });
  const kernel = new wa.Instance(new wa.Module(bytes), { env: { memory } }).exports as unknown as AddExports;
  return (x, y) => {
    if (x.length !== y.length) throw new InputError(`addInPlace: ${x.length} values plus ${y.length}`, "shape_mismatch");
    if (x.length === 0) return;
    const src = overlapsPartially(x, y) ? y.slice() : y;
    chunked(x.length, [[x, 1], [src, 1]], [[x, 1]], ([xp, yp, dp], n) => kernel.sum(xp!, yp!, dp!, n));
  };
}
