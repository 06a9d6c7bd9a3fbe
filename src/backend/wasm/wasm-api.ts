/**
 * The slice of the WebAssembly JS API the kernels use, typed structurally (the project compiles
 * without DOM lib types). A real `WebAssembly.Memory` satisfies WasmMemory.
 */

/** Structural type of `WebAssembly.Memory`. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(deltaPages: number): number;
}

export interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
}

/** The engine's `WebAssembly` object, or undefined where there is none. */
export function webAssembly(): WebAssemblyApi | undefined {
  return (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly;
}

/** True for a SharedArrayBuffer (a shared wasm memory's buffer). */
export function isSharedBuffer(buffer: ArrayBuffer | SharedArrayBuffer): boolean {
  return typeof SharedArrayBuffer !== "undefined" && buffer instanceof SharedArrayBuffer;
}

/**
 * True when two views share memory but start at different bytes: copying one into the other in
 * chunks could then overwrite input not yet read (identical views are safe for chunked in-place).
 */
export function overlapsPartially(x: Float32Array, y: Float32Array): boolean {
  return (
    (x.buffer as ArrayBufferLike) === (y.buffer as ArrayBufferLike) &&
    x.byteOffset !== y.byteOffset &&
    x.byteOffset < y.byteOffset + y.byteLength &&
    y.byteOffset < x.byteOffset + x.byteLength
  );
}

/**
 * A shared WebAssembly.Memory (views of it survive growth), reserving up to `maximum` pages of
 * address space (halved until the reservation succeeds); null without SharedArrayBuffer.
 */
export function createSharedMemory(initial: number, maximum: number): WasmMemory | null {
  const wa = webAssembly();
  if (wa === undefined || typeof SharedArrayBuffer === "undefined") return null;
  for (let max = maximum; max >= Math.max(initial, 1); max = Math.floor(max / 2)) {
    try {
      const memory = new wa.Memory({ initial, maximum: max, shared: true });
      if (memory.buffer instanceof SharedArrayBuffer) return memory;
      return null;
    } catch {
      // Address space reservation failed (e.g. ulimit -v): try a smaller maximum.
    }
  }
  return null;
}
