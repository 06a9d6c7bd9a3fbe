import { InputError } from "../../errors.ts";
import type { BackendWorkspace } from "../backend.ts";
import type { WasmF32Buffer } from "./gemm/heap.ts";
import type { WasmMemory } from "./wasm-api.ts";

/** A workspace whose memory kernels may be instantiated on, and which knows the views into it. */
export interface MemoryWorkspace extends BackendWorkspace {
  readonly memory: WasmMemory;
  /** True when `view` is a non-empty view of `memory` (then its byteOffset is its address there). */
  holds(view: Float32Array): boolean;
}

/**
 * A {@link BackendWorkspace} over a GEMM allocator whose memory is shared, so the views it hands
 * out stay valid when the memory grows.
 */
export function sharedMemoryWorkspace(
  memory: WasmMemory,
  allocate: (floats: number) => { readonly view: Float32Array; readonly buffer: WasmF32Buffer },
  free: (buffer: WasmF32Buffer) => void,
): MemoryWorkspace {
  const live = new Map<Float32Array, WasmF32Buffer>();
  const buffers = new WeakSet<ArrayBufferLike>();
  return {
    memory,
    alloc(floats) {
      const { view, buffer } = allocate(floats);
      live.set(view, buffer);
      buffers.add(view.buffer);
      return view;
    },
    release(view) {
      const buffer = live.get(view);
      if (buffer === undefined) throw new InputError("workspace.release: not a live buffer of this workspace", "foreign_buffer");
      live.delete(view);
      free(buffer);
    },
    holds(view) {
      buffers.add(memory.buffer);
      return view.byteLength > 0 && buffers.has(view.buffer);
    },
  };
}
