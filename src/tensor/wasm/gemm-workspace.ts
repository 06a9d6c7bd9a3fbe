import { InputError } from "../../errors.ts";
import type { BackendWorkspace } from "../matmul.ts";
import type { WasmF32Buffer, WasmMemory } from "./wasm-gemm.ts";

/**
 * A {@link BackendWorkspace} over a GEMM allocator whose memory is shared, so the views it hands
 * out stay valid when the memory grows.
 */
export function sharedMemoryWorkspace(
  memory: WasmMemory,
  allocate: (floats: number) => { readonly view: Float32Array; readonly buffer: WasmF32Buffer },
  free: (buffer: WasmF32Buffer) => void,
): BackendWorkspace {
  const live = new Map<Float32Array, WasmF32Buffer>();
  return {
    memory,
    alloc(floats) {
      const { view, buffer } = allocate(floats);
      live.set(view, buffer);
      return view;
    },
    release(view) {
      const buffer = live.get(view);
      if (buffer === undefined) throw new InputError("workspace.release: not a live buffer of this workspace", "foreign_buffer");
      live.delete(view);
      free(buffer);
    },
  };
}
