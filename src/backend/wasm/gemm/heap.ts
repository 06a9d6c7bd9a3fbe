/**
 * The allocator of a WasmGemm's memory: first-fit over a free list sorted by address and
 * coalesced, above a bump pointer that grows the memory geometrically.
 */
import { Gpt2LensError, InputError } from "../../../errors.ts";
import type { WasmMemory } from "../wasm-api.ts";

const PAGE_BYTES = 65536;
/** Allocation granularity / alignment (a cache line). */
export const ALIGN = 64;
/** Bytes [0, HEAP_BASE) are never handed out, so pointer 0 can mean "none". */
const HEAP_BASE = 64;

/** A float32 array living inside a WasmGemm's memory. */
export interface WasmF32Buffer {
  /** Byte address in the memory (16-byte aligned, never 0). Stable across memory growth. */
  readonly ptr: number;
  /** Length in floats. */
  readonly length: number;
  /**
   * A Float32Array over this buffer. Memory growth detaches old views of a non-shared memory,
   * so call this again after anything that may allocate instead of holding on to the result; a
   * new view is created only when the underlying buffer changed.
   */
  view(): Float32Array;
}

/** A buffer handed out by a {@link WasmHeap}. */
export class Block implements WasmF32Buffer {
  private cached: Float32Array | undefined;
  freed = false;
  constructor(
    readonly owner: WasmHeap,
    readonly ptr: number,
    readonly length: number,
    /** Bytes reserved (multiple of ALIGN). */
    readonly reserved: number,
  ) {}
  view(): Float32Array {
    if (this.freed) throw new InputError("WasmF32Buffer.view(): buffer was freed", "use_after_free");
    const buffer = this.owner.memory.buffer;
    if (this.cached === undefined || this.cached.buffer !== buffer) {
      this.cached = new Float32Array(buffer, this.ptr, this.length);
    }
    return this.cached;
  }
}

export function checkDim(where: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
    throw new InputError(`${where}: ${name}=${v} must be a non-negative integer`);
  }
}

export function checkLength(where: string, name: string, arr: Float32Array, expected: number, shape: string): void {
  if (arr.length !== expected) {
    const detached = arr.length === 0 && expected > 0 ? " (if it was a view of wasm memory, the memory may have grown and detached it: call view() again)" : "";
    throw new InputError(`${where}: ${name} has ${arr.length} elements, expected ${shape} = ${expected}${detached}`);
  }
}

export class WasmHeap {
  private top = HEAP_BASE;
  /** Free blocks sorted by address, coalesced. */
  private readonly freeList: { ptr: number; size: number }[] = [];

  constructor(readonly memory: WasmMemory) {}

  /** The bump pointer: end (in bytes) of the highest block ever handed out and not yet returned. */
  get heapTop(): number {
    return this.top;
  }

  /** Bytes handed out and not yet freed (whole reserved blocks). */
  get bytesInUse(): number {
    let free = 0;
    for (const block of this.freeList) free += block.size;
    return this.top - HEAP_BASE - free;
  }

  /** `floats` float32s (contents unspecified), growing the memory if needed. */
  alloc(floats: number): Block {
    checkDim("WasmGemm.alloc", "floats", floats);
    const size = Math.max(ALIGN, Math.ceil((floats * 4) / ALIGN) * ALIGN);
    let ptr = -1;
    for (let i = 0; i < this.freeList.length; i++) {
      const block = this.freeList[i];
      if (block.size >= size) {
        ptr = block.ptr;
        if (block.size === size) this.freeList.splice(i, 1);
        else {
          block.ptr += size;
          block.size -= size;
        }
        break;
      }
    }
    if (ptr < 0) {
      ptr = this.top;
      this.ensureCapacity(ptr + size);
      this.top = ptr + size;
    }
    return new Block(this, ptr, floats, size);
  }

  /** Returns a buffer to the allocator. Its views must not be used afterwards. */
  free(buf: WasmF32Buffer): void {
    if (!(buf instanceof Block) || buf.owner !== this) {
      throw new InputError("WasmGemm.free: buffer does not belong to this WasmGemm", "foreign_buffer");
    }
    if (buf.freed) throw new InputError("WasmGemm.free: buffer already freed", "double_free");
    buf.freed = true;
    this.release(buf.ptr, buf.reserved);
  }

  /**
   * Returns a getter for `x`'s contents that stays valid if the memory grows in between: views of
   * this memory are re-created at the same offset, other arrays are returned as they are.
   */
  survivesGrowth(x: Float32Array): () => Float32Array {
    if (x.buffer !== this.memory.buffer || x.byteLength === 0) return () => x;
    const { byteOffset, length } = x;
    return () => new Float32Array(this.memory.buffer, byteOffset, length);
  }

  private ensureCapacity(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return;
    const maxBytes = 65536 * PAGE_BYTES;
    if (bytes > maxBytes) {
      throw new Gpt2LensError("wasm_out_of_memory", `WasmGemm: ${bytes} bytes exceed the 4 GiB wasm32 address space`);
    }
    const needPages = Math.ceil((bytes - have) / PAGE_BYTES);
    // Grow geometrically to keep the number of (view-detaching) growths small.
    const havePages = have / PAGE_BYTES;
    const pages = Math.min(Math.max(needPages, Math.ceil(havePages / 2)), 65536 - havePages);
    try {
      this.memory.grow(pages);
    } catch (cause) {
      try {
        this.memory.grow(needPages);
      } catch {
        throw new Gpt2LensError("wasm_out_of_memory", `WasmGemm: cannot grow wasm memory to ${bytes} bytes`, { cause });
      }
    }
  }

  private release(ptr: number, size: number): void {
    const list = this.freeList;
    let i = 0;
    while (i < list.length && list[i].ptr < ptr) i++;
    list.splice(i, 0, { ptr, size });
    // Coalesce with the next, then the previous block.
    if (i + 1 < list.length && list[i].ptr + list[i].size === list[i + 1].ptr) {
      list[i].size += list[i + 1].size;
      list.splice(i + 1, 1);
    }
    if (i > 0 && list[i - 1].ptr + list[i - 1].size === list[i].ptr) {
      list[i - 1].size += list[i].size;
      list.splice(i, 1);
      i--;
    }
    // A free block touching the bump pointer just lowers it.
    const last = list[list.length - 1];
    if (last !== undefined && last.ptr + last.size === this.top) {
      this.top = last.ptr;
      list.pop();
    }
  }
}
