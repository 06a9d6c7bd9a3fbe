/**
 * WasmGemm: single-threaded float32 GEMM on a WebAssembly SIMD128 micro-kernel whose module bytes
 * are generated at run time (see gemm-kernel.ts / wasm-writer.ts). Runs unchanged in Node ≥ 20
 * and Deno; no Node built-ins.
 *
 * Memory model. A WasmGemm owns one WebAssembly.Memory (created, or passed in — then it manages
 * the whole memory, so don't share it with other allocators). Buffers are carved out of it with
 * {@link WasmGemm.alloc}. Growing the memory (alloc, pack, matmul's staging copies may all grow
 * it) DETACHES every Float32Array previously taken over a non-shared memory's buffer: never keep a
 * view across such calls — call {@link WasmF32Buffer.view} again, which always returns a valid,
 * fresh-if-needed view. Pointers (`ptr`) stay valid across growth. (A shared memory's old views
 * stay valid but keep their old length.)
 *
 * Workers. With a shared memory, other threads can run the same kernel on the same data: call
 * {@link instantiateGemmKernel}(memory, gemm.kernelOptions) there (no allocator — the owning
 * WasmGemm hands out pointers) and split the output with `gemmRange` by panels, giving each
 * worker its own scratch block of `scratchFloats(layout, k)` floats.
 *
 * Performance notes. V8 first runs new wasm code in its baseline compiler and tiers hot functions
 * up in the background, so the first call or two are slower. Engines without trap-handler bounds
 * checks (Deno as of 2.x) pay an explicit bounds check per load and run this kernel ~3x slower.
 */
import { Gpt2LensError, InputError } from "../../errors.ts";
import {
  GEMM_FLAG_ACCUMULATE,
  generateGemmModule,
  packedLength,
  relaxedSimdProbeModule,
  scratchFloats,
  simdProbeModule,
  type GemmExports,
  type GemmKernelLayout,
  type GemmKernelOptions,
} from "./gemm-kernel.ts";

// The project compiles without DOM lib types, so describe the slice of the WebAssembly JS API we
// use structurally. A real `WebAssembly.Memory` satisfies WasmMemory.

/** Structural type of `WebAssembly.Memory`. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(deltaPages: number): number;
}

interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
}

function webAssembly(): WebAssemblyApi | undefined {
  return (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly;
}

/** True if the engine validates WebAssembly SIMD128 code. */
export function wasmSimdSupported(): boolean {
  const wa = webAssembly();
  if (wa === undefined) return false;
  try {
    return wa.validate(simdProbeModule());
  } catch {
    return false;
  }
}

/** True if the engine validates relaxed-SIMD code (f32x4.relaxed_madd). */
export function wasmRelaxedSimdSupported(): boolean {
  const wa = webAssembly();
  if (wa === undefined) return false;
  try {
    return wa.validate(relaxedSimdProbeModule());
  } catch {
    return false;
  }
}

/** Resolved kernel options (everything except the memory kind, which follows the memory). */
export type GemmKernelConfig = Omit<GemmKernelOptions, "sharedMemory">;

/**
 * Generates and instantiates the GEMM kernel against `memory` (plain or shared). Returns null when
 * WebAssembly SIMD is unavailable (or `relaxedSimd` is requested but unsupported). Use this in
 * workers that share a WasmGemm's memory; pass that WasmGemm's `kernelOptions` so the packed
 * layout matches.
 */
export function instantiateGemmKernel(
  memory: WasmMemory,
  options: GemmKernelConfig = {},
): { exports: GemmExports; layout: GemmKernelLayout } | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  if (options.relaxedSimd && !wasmRelaxedSimdSupported()) return null;
  const kernel = generateGemmModule({ ...options, sharedMemory: isShared(memory.buffer) });
  const instance = new wa.Instance(new wa.Module(kernel.bytes), { env: { memory } });
  const { mr, nr, kc, mc } = kernel;
  return { exports: instance.exports as unknown as GemmExports, layout: { mr, nr, kc, mc } };
}

const PAGE_BYTES = 65536;
/** Allocation granularity / alignment (a cache line). */
const ALIGN = 64;
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

/** B[k,n] packed into column panels inside wasm memory (see gemm-kernel.ts for the layout). */
export interface PackedMatrix {
  readonly k: number;
  readonly n: number;
  /** Panel width (floats). */
  readonly panelWidth: number;
  /** The packed data; release it with {@link WasmGemm.free}. */
  readonly buffer: WasmF32Buffer;
}

export interface WasmGemmOptions {
  /**
   * Memory to use (plain or shared). WasmGemm manages all of it. Default: a new, plain memory.
   */
  memory?: WasmMemory;
  /**
   * Use f32x4.relaxed_madd (FMA where the CPU has it) when the engine supports relaxed SIMD.
   * Faster, but results may then differ in the last bits between machines. Default false.
   */
  relaxedSimd?: boolean;
  /** Override the kernel's tiling (for benchmarking and tests). */
  kernel?: Omit<GemmKernelOptions, "sharedMemory" | "relaxedSimd">;
  /** Initial memory size in 64 KiB pages when WasmGemm creates the memory (default 16). */
  initialPages?: number;
}

class Block implements WasmF32Buffer {
  private cached: Float32Array | undefined;
  freed = false;
  constructor(
    readonly owner: WasmGemm,
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

class Packed implements PackedMatrix {
  constructor(
    readonly k: number,
    readonly n: number,
    readonly panelWidth: number,
    readonly buffer: Block,
  ) {}
}

function isShared(buffer: ArrayBuffer | SharedArrayBuffer): boolean {
  return typeof SharedArrayBuffer !== "undefined" && buffer instanceof SharedArrayBuffer;
}

function checkDim(where: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
    throw new InputError(`${where}: ${name}=${v} must be a non-negative integer`);
  }
}

function checkLength(where: string, name: string, arr: Float32Array, expected: number, shape: string): void {
  if (arr.length !== expected) {
    const detached = arr.length === 0 && expected > 0 ? " (if it was a view of wasm memory, the memory may have grown and detached it: call view() again)" : "";
    throw new InputError(`${where}: ${name} has ${arr.length} elements, expected ${shape} = ${expected}${detached}`);
  }
}

export class WasmGemm {
  readonly memory: WasmMemory;
  /** Raw exports, for callers (e.g. a worker pool) that manage pointers themselves. */
  readonly exports: GemmExports;
  /** Tiling of the generated kernel (mr, nr = panel width, kc, mc). */
  readonly layout: GemmKernelLayout;
  /** The options the kernel was generated with (pass them to {@link instantiateGemmKernel}). */
  readonly kernelOptions: GemmKernelConfig;

  private top = HEAP_BASE;
  /** Free blocks sorted by address, coalesced. */
  private readonly freeList: { ptr: number; size: number }[] = [];
  /** Per-call kernel scratch (edge tile + packed A block), grown on demand. */
  private scratch: Block | undefined;
  /** Reusable staging buffers for matmul copy-in/out: A, C, bias. */
  private readonly staging: (Block | undefined)[] = [undefined, undefined, undefined];

  private constructor(memory: WasmMemory, exports: GemmExports, layout: GemmKernelLayout, kernelOptions: GemmKernelConfig) {
    this.memory = memory;
    this.exports = exports;
    this.layout = layout;
    this.kernelOptions = kernelOptions;
  }

  /** True if the engine validates WebAssembly SIMD128 code. */
  static isSupported(): boolean {
    return wasmSimdSupported();
  }

  /**
   * Generates and instantiates the kernel. Returns null when WebAssembly SIMD128 is unavailable
   * (feature-tested by validating a tiny SIMD module). `relaxedSimd` silently falls back to plain
   * SIMD when the engine lacks it; check {@link relaxedSimd}.
   */
  static create(options: WasmGemmOptions = {}): WasmGemm | null {
    const wa = webAssembly();
    if (wa === undefined || !wasmSimdSupported()) return null;
    const kernelOptions: GemmKernelConfig = { ...options.kernel, relaxedSimd: options.relaxedSimd === true && wasmRelaxedSimdSupported() };
    const memory = options.memory ?? new wa.Memory({ initial: options.initialPages ?? 16 });
    const kernel = instantiateGemmKernel(memory, kernelOptions);
    if (kernel === null) return null;
    return new WasmGemm(memory, kernel.exports, kernel.layout, kernelOptions);
  }

  /** Whether the kernel uses relaxed-SIMD multiply-add (FMA on most CPUs). */
  get relaxedSimd(): boolean {
    return this.kernelOptions.relaxedSimd === true;
  }

  /** Panel width of packed matrices. */
  get nr(): number {
    return this.layout.nr;
  }

  // -------------------------------------------------------------------------------------------
  // Allocation

  /** Allocates `floats` float32s (contents unspecified), growing the memory if needed. */
  alloc(floats: number): WasmF32Buffer {
    return this.allocBuffer(floats);
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

  /** The bump pointer: end (in bytes) of the highest block ever handed out and not yet returned. */
  get heapTop(): number {
    return this.top;
  }

  private allocBuffer(floats: number): Block {
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

  // -------------------------------------------------------------------------------------------
  // Packing

  /** Packs B[k,n] (row-major) into column panels in wasm memory. */
  pack(b: Float32Array, k: number, n: number): PackedMatrix {
    checkDim("WasmGemm.pack", "k", k);
    checkDim("WasmGemm.pack", "n", n);
    checkLength("WasmGemm.pack", "b", b, k * n, `k·n = ${k}·${n}`);
    const NR = this.nr;
    const source = this.survivesGrowth(b);
    const buf = this.allocBuffer(packedLength(k, n, NR));
    const dst = buf.view();
    b = source();
    const panels = Math.ceil(n / NR);
    for (let p = 0; p < panels; p++) {
      const j0 = p * NR;
      const nr = Math.min(NR, n - j0);
      let d = p * k * NR;
      for (let kk = 0; kk < k; kk++, d += NR) {
        const s = kk * n + j0;
        for (let j = 0; j < nr; j++) dst[d + j] = b[s + j];
        for (let j = nr; j < NR; j++) dst[d + j] = 0;
      }
    }
    return new Packed(k, n, NR, buf);
  }

  /**
   * Packs B given as its transpose Bᵀ[n,k] (row-major), e.g. the tied embedding W_E[vocab, d_model]
   * used as the unembedding W_U = W_Eᵀ (k = d_model, n = vocab).
   */
  packTransposed(bt: Float32Array, n: number, k: number): PackedMatrix {
    checkDim("WasmGemm.packTransposed", "n", n);
    checkDim("WasmGemm.packTransposed", "k", k);
    checkLength("WasmGemm.packTransposed", "bt", bt, n * k, `n·k = ${n}·${k}`);
    const NR = this.nr;
    const source = this.survivesGrowth(bt);
    const buf = this.allocBuffer(packedLength(k, n, NR));
    const dst = buf.view();
    bt = source();
    const panels = Math.ceil(n / NR);
    for (let p = 0; p < panels; p++) {
      const base = p * k * NR;
      for (let jj = 0; jj < NR; jj++) {
        const j = p * NR + jj;
        let d = base + jj;
        if (j < n) {
          let s = j * k;
          for (let kk = 0; kk < k; kk++, d += NR) dst[d] = bt[s++];
        } else {
          for (let kk = 0; kk < k; kk++, d += NR) dst[d] = 0;
        }
      }
    }
    return new Packed(k, n, NR, buf);
  }

  // -------------------------------------------------------------------------------------------
  // Multiply

  /**
   * out[m,n] = a[m,k] · B (+ bias[n]); with `accumulate`, out += a · B (+ bias).
   *
   * `a`, `out` and `bias` may be ordinary Float32Arrays (copied in/out through reusable staging
   * buffers) or views of this.memory (used in place; `a`/`bias` overlapping `out` are copied
   * first). Note the staging copies can grow the memory, which detaches views of a non-shared
   * memory: if `out` is such a view, read the result through your buffer's view() afterwards.
   */
  matmul(a: Float32Array, m: number, b: PackedMatrix, out: Float32Array, bias?: Float32Array, accumulate = false): void {
    const where = "WasmGemm.matmul";
    if (!(b instanceof Packed) || b.buffer.owner !== this) {
      throw new InputError(`${where}: b must be a PackedMatrix made by this WasmGemm's pack()/packTransposed()`, "foreign_buffer");
    }
    if (b.buffer.freed) throw new InputError(`${where}: packed matrix was freed`, "use_after_free");
    checkDim(where, "m", m);
    const { k, n } = b;
    checkLength(where, "a", a, m * k, `m·k = ${m}·${k}`);
    checkLength(where, "out", out, m * n, `m·n = ${m}·${n}`);
    if (bias !== undefined) checkLength(where, "bias", bias, n, `n = ${n}`);
    if (m === 0 || n === 0) return;

    // Resolve in-memory pointers before anything can grow (and so detach) the memory.
    const memBuffer = this.memory.buffer;
    const inMemory = (x: Float32Array): boolean => x.buffer === memBuffer && x.byteLength > 0;
    const range = (x: Float32Array): [number, number] => [x.byteOffset, x.byteOffset + x.byteLength];
    const overlaps = (x: Float32Array, y: Float32Array): boolean => {
      const [x0, x1] = range(x);
      const [y0, y1] = range(y);
      return x0 < y1 && y0 < x1;
    };
    const outIn = inMemory(out);
    const aIn = inMemory(a) && !(outIn && overlaps(a, out));
    const biasIn = bias !== undefined && inMemory(bias) && !(outIn && overlaps(bias, out));
    let aPtr = aIn ? a.byteOffset : 0;
    let cPtr = outIn ? out.byteOffset : 0;
    let biasPtr = biasIn ? bias.byteOffset : 0;

    // Stage whatever is not used in place. The allocations may grow (and so detach) the memory;
    // pointers stay valid, and sources inside the memory are re-viewed afterwards.
    const aSource = this.survivesGrowth(a);
    const biasSource = bias === undefined ? undefined : this.survivesGrowth(bias);
    const scratchPtr = this.scratchFor(k).ptr;
    if (!aIn) aPtr = this.stage(0, m * k).ptr;
    if (!outIn) cPtr = this.stage(1, m * n).ptr;
    if (biasSource !== undefined && !biasIn) biasPtr = this.stage(2, n).ptr;
    if (!aIn) this.staging[0]!.view().set(aSource());
    if (!outIn && accumulate) this.staging[1]!.view().subarray(0, m * n).set(out);
    if (biasSource !== undefined && !biasIn) this.staging[2]!.view().set(biasSource());

    this.exports.gemm(aPtr, b.buffer.ptr, cPtr, biasPtr, m, n, k, accumulate ? GEMM_FLAG_ACCUMULATE : 0, scratchPtr);

    if (!outIn) out.set(this.staging[1]!.view().subarray(0, m * n));
  }

  /**
   * Returns a getter for `x`'s contents that stays valid if the memory grows in between: views of
   * this memory are re-created at the same offset, other arrays are returned as they are.
   */
  private survivesGrowth(x: Float32Array): () => Float32Array {
    if (x.buffer !== this.memory.buffer || x.byteLength === 0) return () => x;
    const { byteOffset, length } = x;
    return () => new Float32Array(this.memory.buffer, byteOffset, length);
  }

  private scratchFor(k: number): Block {
    const need = scratchFloats(this.layout, k);
    if (this.scratch === undefined || this.scratch.length < need) {
      if (this.scratch !== undefined) this.free(this.scratch);
      this.scratch = this.allocBuffer(need);
    }
    return this.scratch;
  }

  /** A staging buffer with at least `floats` floats, reusing the previous one when big enough. */
  private stage(slot: number, floats: number): Block {
    const cur = this.staging[slot];
    if (cur !== undefined && cur.length >= floats) return cur;
    if (cur !== undefined) this.free(cur);
    const buf = this.allocBuffer(floats);
    this.staging[slot] = buf;
    return buf;
  }

  /** Frees matmul's cached staging buffers (they are kept between calls to avoid re-allocation). */
  releaseStaging(): void {
    for (let slot = 0; slot < this.staging.length; slot++) {
      const buf = this.staging[slot];
      if (buf !== undefined) this.free(buf);
      this.staging[slot] = undefined;
    }
  }
}
