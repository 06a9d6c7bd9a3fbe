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
 * worker its own scratch block of `scratchFloats(layout, k)` floats and the row block
 * `rowBlockRows(layout, k, n, rows)` (gemm-kernel.ts).
 *
 * Performance notes. V8 first runs new wasm code in its baseline compiler and tiers hot functions
 * up in the background, so the first call or two are slower. Engines without trap-handler bounds
 * checks (Deno as of 2.x) pay an explicit bounds check per load and run this kernel ~3x slower.
 */
import { Gpt2LensError, InputError } from "../../../errors.ts";
import {
  GEMM_FLAG_ACCUMULATE,
  generateGemmModule,
  maxRowBlock,
  packedLength,
  relaxedSimdProbeModule,
  rowBlockRows,
  scratchFloats,
  simdProbeModule,
  type GemmExports,
  type GemmKernelLayout,
  type GemmKernelOptions,
} from "../kernels/gemm-kernel.ts";
import { isSharedBuffer, type WasmMemory, webAssembly } from "../wasm-api.ts";

export type { WasmMemory };

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
  const kernel = generateGemmModule({ ...options, sharedMemory: isSharedBuffer(memory.buffer) });
  const instance = new wa.Instance(new wa.Module(kernel.bytes), { env: { memory } });
  const { mr, nr, kc, mc } = kernel;
  return { exports: instance.exports as unknown as GemmExports, layout: mc === undefined ? { mr, nr, kc } : { mr, nr, kc, mc } };
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
   * Use f32x4.relaxed_madd (a fused multiply-add where the CPU has one) when the engine supports
   * relaxed SIMD, with the 6×8 register tile that FMA makes fit (about 30 % faster; 4×8 under
   * Deno, whose shuffle splats leave no register for the larger tile). Every product is then
   * rounded once instead of twice: results stay within float32 rounding of the plain kernel but
   * may differ in the last bits, and between CPUs with and without FMA. Default:
   * on wherever the engine validates relaxed SIMD (Deno, Node ≥ 22; Node 20 only after
   * `--experimental-wasm-relaxed-simd`, which selectNodeBackend in backend/node-select.ts sets); false forces plain SIMD.
   */
  relaxedSimd?: boolean;
  /** Override the kernel's tiling (for benchmarking and tests). */
  kernel?: Omit<GemmKernelOptions, "sharedMemory" | "relaxedSimd">;
  /** Initial memory size in 64 KiB pages when WasmGemm creates the memory (default 16). */
  initialPages?: number;
  /**
   * Upper bound in bytes on matmul's staging buffers for A and C together (default
   * {@link DEFAULT_STAGING_BUDGET_BYTES}). Products whose staged rows do not fit are computed in
   * row blocks; the memory never shrinks, so this bounds what staging adds to it for good. At
   * least {@link GemmKernelLayout.mr} rows are staged at a time, even if they exceed the budget.
   */
  stagingBudgetBytes?: number;
  /**
   * Stage a C that does not fit the budget in column strips of all rows when they fit (see
   * {@link stagingStripColumns}); false: always in row blocks. Default true (false for comparisons).
   */
  columnStrips?: boolean;
}

/** Default {@link WasmGemmOptions.stagingBudgetBytes}: 32 MiB for the A and C staging together. */
export const DEFAULT_STAGING_BUDGET_BYTES = 32 * 1024 * 1024;

/**
 * Rows per staged row block: all `m` rows when `m` rows of `rowBytes` staged bytes fit in
 * `budget` (less 64 bytes for aligning C after A), else at most as many as fit, in units of
 * `blocking.mc` (the kernel's largest row block for the product) when at least that many fit,
 * else of `mr` (at least `mr` rows), spread evenly: as few blocks as fit allows, the smallest
 * block size in those units that covers m (416 rows, 164 fit, mr 4 → 140 + 140 + 136, not
 * 164 + 164 + 88). The k summation order of every output element does not depend on the row
 * blocking.
 */
export function stagingBlockRows(m: number, rowBytes: number, budget: number, blocking: { readonly mr: number; readonly mc: number }): number {
  const room = budget - ALIGN;
  if (rowBytes <= 0 || m * rowBytes <= room) return m;
  const fit = Math.floor(room / rowBytes);
  const unit = fit >= blocking.mc ? blocking.mc : blocking.mr;
  const rows = Math.max(unit, fit - (fit % unit));
  return Math.min(m, Math.ceil(m / Math.ceil(m / rows) / unit) * unit);
}

/** Most bytes of C one staged column strip holds (see {@link stagingStripColumns}). */
export const MAX_STRIP_BYTES = 4 * 1024 * 1024;

/**
 * Columns per staged column strip when C[m, n] is staged in `slots` strips of all m rows (instead
 * of row blocks of all n columns): as few strips as fit `room` bytes, each at most
 * {@link MAX_STRIP_BYTES}, of equal width in whole panels of `nr` columns (the last may be
 * narrower); 0 when not even one panel of m rows fits. Full-height strips keep the kernel's large
 * row blocks for a wide B (each B column is streamed ⌈m / row block⌉ times, however narrow the
 * strip) with a small staging arena: for the 50257-column logits only the strips become resident,
 * not a budget's worth of row blocks.
 */
export function stagingStripColumns(m: number, n: number, nr: number, slots: number, room: number): number {
  const panelBytes = 4 * m * nr;
  const fit = Math.floor(Math.min(MAX_STRIP_BYTES, room / slots) / panelBytes);
  if (fit < 1) return 0;
  const panels = Math.ceil(n / nr);
  return Math.ceil(panels / Math.ceil(panels / fit)) * nr;
}

/** Narrowest column strip worth staging through spare buffers rather than the arena's strips. */
export const MIN_SPARE_STRIP_COLUMNS = 1024;

/**
 * Column strips of C[m, n] through `slots` of the caller's `spare` buffers (dead memory already
 * in use, e.g. a forward pass's workspace; see Backend.matmul) instead of the staging
 * arena, whose pages would otherwise become resident too: the largest `slots` buffers, which must
 * not overlap, and strips as wide as the smallest of them holds ({@link stagingStripColumns});
 * null when that is under {@link MIN_SPARE_STRIP_COLUMNS} columns (and not all n), or there are
 * too few buffers.
 */
export function spareStrips(
  spare: readonly Float32Array[], m: number, n: number, nr: number, slots: number,
): { readonly strip: number; readonly views: Float32Array[] } | null {
  if (spare.length < slots) return null;
  const largest = [...spare].sort((x, y) => y.length - x.length).slice(0, slots);
  if (largest.some((x, i) => largest.some((y, j) => i < j && overlaps(x, y)))) return null;
  const strip = stagingStripColumns(m, n, nr, 1, 4 * largest[slots - 1]!.length);
  if (strip === 0 || (strip < MIN_SPARE_STRIP_COLUMNS && strip < n)) return null;
  return { strip, views: largest.map((x) => x.subarray(0, m * strip)) };
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

/** Part of a staging arena (valid until the next stagingBuffers call). */
class Slice implements WasmF32Buffer {
  readonly ptr: number;
  constructor(
    private readonly arena: Block,
    private readonly offset: number,
    readonly length: number,
  ) {
    this.ptr = arena.ptr + offset * 4;
  }
  view(): Float32Array {
    const whole = this.arena.view();
    return new Float32Array(whole.buffer, whole.byteOffset + this.offset * 4, this.length);
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

/** True if two arrays share a buffer and their byte ranges intersect. */
function overlaps(x: Float32Array, y: Float32Array): boolean {
  return x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
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
  /** Tiling of the generated kernel (mr, nr = panel width, kc; mc if fixed, see rowBlockRows). */
  readonly layout: GemmKernelLayout;
  /** The options the kernel was generated with (pass them to {@link instantiateGemmKernel}). */
  readonly kernelOptions: GemmKernelConfig;

  private top = HEAP_BASE;
  /** Free blocks sorted by address, coalesced. */
  private readonly freeList: { ptr: number; size: number }[] = [];
  /** Per-call kernel scratch (edge tile + packed A block), grown on demand. */
  private scratch: Block | undefined;
  /** Reusable staging for matmul copy-in/out: the A + C arena. */
  private arena: Block | undefined;
  /** Reusable staging for a bias that is not in this memory. */
  private biasStaging: Block | undefined;
  /** Bound on the A and C staging together, in bytes (see WasmGemmOptions.stagingBudgetBytes). */
  readonly stagingBudgetBytes: number;
  /** See WasmGemmOptions.columnStrips. */
  readonly columnStrips: boolean;

  private constructor(memory: WasmMemory, exports: GemmExports, layout: GemmKernelLayout, kernelOptions: GemmKernelConfig, stagingBudgetBytes: number, columnStrips: boolean) {
    this.columnStrips = columnStrips;
    this.memory = memory;
    this.exports = exports;
    this.layout = layout;
    this.kernelOptions = kernelOptions;
    this.stagingBudgetBytes = stagingBudgetBytes;
  }

  /** True if the engine validates WebAssembly SIMD128 code. */
  static isSupported(): boolean {
    return wasmSimdSupported();
  }

  /**
   * Generates and instantiates the kernel. Returns null when WebAssembly SIMD128 is unavailable
   * (feature-tested by validating a tiny SIMD module). Relaxed SIMD is used where the engine has it
   * unless `relaxedSimd: false`; check {@link relaxedSimd}.
   */
  static create(options: WasmGemmOptions = {}): WasmGemm | null {
    const budget = options.stagingBudgetBytes ?? DEFAULT_STAGING_BUDGET_BYTES;
    if (!(budget > 0) || !Number.isFinite(budget)) {
      throw new InputError(`WasmGemm: stagingBudgetBytes=${budget} must be a positive number`, "bad_staging_budget");
    }
    const wa = webAssembly();
    if (wa === undefined || !wasmSimdSupported()) return null;
    const kernelOptions: GemmKernelConfig = { ...options.kernel, relaxedSimd: options.relaxedSimd !== false && wasmRelaxedSimdSupported() };
    const memory = options.memory ?? new wa.Memory({ initial: options.initialPages ?? 16 });
    const kernel = instantiateGemmKernel(memory, kernelOptions);
    if (kernel === null) return null;
    return new WasmGemm(memory, kernel.exports, kernel.layout, kernelOptions, budget, options.columnStrips ?? true);
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

  /**
   * Bytes handed out and not yet freed (whole reserved blocks, including matmul's staging and
   * scratch): what a leak check compares before and after, e.g. a model's load and dispose.
   */
  get bytesInUse(): number {
    let free = 0;
    for (const block of this.freeList) free += block.size;
    return this.top - HEAP_BASE - free;
  }

  /**
   * Bytes held by matmul's A + C staging arena: 0 before anything was staged, then
   * {@link stagingBudgetBytes} (more only while a product needs more than the budget for its
   * minimum of mr rows). The bias staging, n floats, comes on top. Includes a NodeGemmPool's
   * staging, which uses the same arena.
   */
  get stagingBytes(): number {
    return 4 * (this.arena?.length ?? 0);
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
   *
   * Staged products are computed in row blocks whose A and C staging fits
   * {@link stagingBudgetBytes} (bit-identical to one block: each output element's k summation
   * does not depend on the rows around it), so a large `out` (e.g. logits) is never held twice;
   * a staged `out` in column strips of all rows when they fit ({@link stagingStripColumns}), which
   * touch less of the staging arena.
   */
  matmul(
    a: Float32Array, m: number, b: PackedMatrix, out: Float32Array, bias?: Float32Array, accumulate = false, spare?: readonly Float32Array[],
  ): void {
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
    const outIn = inMemory(out);
    const aOverlapsOut = overlaps(a, out);
    const aIn = inMemory(a) && !(outIn && aOverlapsOut);
    const biasIn = bias !== undefined && inMemory(bias) && !(outIn && overlaps(bias, out));
    const aPtr = aIn ? a.byteOffset : 0;
    const cPtr = outIn ? out.byteOffset : 0;
    let biasPtr = biasIn ? bias.byteOffset : 0;

    // Whatever is not used in place is staged, in row blocks that keep the A and C staging within
    // the budget — unless `a` overlaps `out` (writing out block by block would overwrite rows of
    // `a` still to be read): then A is staged whole, before anything is written.
    const blocking = { mr: this.layout.mr, mc: maxRowBlock(this.layout, k, n) };
    const rows = aOverlapsOut ? m : stagingBlockRows(m, 4 * ((aIn ? 0 : k) + (outIn ? 0 : n)), this.stagingBudgetBytes, blocking);
    if (rows < m && !outIn && this.columnStrips) {
      const usable = (spare ?? []).filter((x) => inMemory(x) && !overlaps(x, a) && !(bias !== undefined && overlaps(x, bias)));
      const lent = spareStrips(usable, m, n, this.nr, 1);
      const strip = lent?.strip ?? stagingStripColumns(m, n, this.nr, 1, this.stagingBudgetBytes - 2 * ALIGN - (aIn ? 0 : 4 * m * k));
      if (strip > 0) {
        this.matmulStrips(a, aIn ? aPtr : 0, m, b, out, bias, biasIn ? biasPtr : 0, accumulate, strip, lent?.views[0]);
        return;
      }
    }

    // The allocations may grow (and so detach) the memory; pointers stay valid, and sources inside
    // the memory are re-viewed afterwards.
    const aSource = this.survivesGrowth(a);
    const biasSource = bias === undefined ? undefined : this.survivesGrowth(bias);
    const scratchPtr = this.scratchFor(k).ptr;
    const [aStage, cStage, biasStage] = this.stagingBuffers(aIn ? 0 : rows * k, outIn ? 0 : rows * n, bias === undefined || biasIn ? 0 : n);
    if (biasSource !== undefined && biasStage !== undefined) {
      biasPtr = biasStage.ptr;
      biasStage.view().subarray(0, n).set(biasSource());
    }
    const aAll = aIn ? a : aSource();
    const flags = accumulate ? GEMM_FLAG_ACCUMULATE : 0;
    for (let i0 = 0; i0 < m; i0 += rows) {
      const r = Math.min(rows, m - i0);
      if (aStage !== undefined) aStage.view().set(aAll.subarray(i0 * k, (i0 + r) * k));
      if (cStage !== undefined && accumulate) cStage.view().set(out.subarray(i0 * n, (i0 + r) * n));
      const aBlock = aStage === undefined ? aPtr + i0 * k * 4 : aStage.ptr;
      const cBlock = cStage === undefined ? cPtr + i0 * n * 4 : cStage.ptr;
      this.exports.gemm(aBlock, b.buffer.ptr, cBlock, biasPtr, r, n, k, flags, scratchPtr, rowBlockRows(this.layout, k, n, r));
      if (cStage !== undefined) out.set(cStage.view().subarray(0, r * n), i0 * n);
    }
  }

  /**
   * matmul with `out` staged in column strips of `strip` columns and all m rows, `a` used in
   * place (`aPtr`) or staged whole, through `lent` (a spare view of this memory) or the arena.
   * Each strip is the product with the strip's panels of B (they are contiguous), so every output
   * element is computed as in one call.
   */
  private matmulStrips(
    a: Float32Array, aPtr: number, m: number, b: Packed, out: Float32Array,
    bias: Float32Array | undefined, biasPtr: number, accumulate: boolean, strip: number, lent: Float32Array | undefined,
  ): void {
    const { k, n } = b;
    const aSource = this.survivesGrowth(a);
    const biasSource = bias === undefined || biasPtr !== 0 ? undefined : this.survivesGrowth(bias);
    const lentSource = lent === undefined ? undefined : this.survivesGrowth(lent);
    const scratchPtr = this.scratchFor(k).ptr;
    const [aStage, arenaStage, biasStage] = this.stagingBuffers(aPtr !== 0 ? 0 : m * k, lent === undefined ? m * strip : 0, biasSource === undefined ? 0 : n);
    if (aStage !== undefined) {
      aStage.view().set(aSource());
      aPtr = aStage.ptr;
    }
    if (biasSource !== undefined && biasStage !== undefined) {
      biasStage.view().subarray(0, n).set(biasSource());
      biasPtr = biasStage.ptr;
    }
    const flags = accumulate ? GEMM_FLAG_ACCUMULATE : 0;
    const mc = rowBlockRows(this.layout, k, n, m);
    const c = lentSource?.() ?? arenaStage!.view();
    const cPtr = c.byteOffset;
    for (let j0 = 0; j0 < n; j0 += strip) {
      const w = Math.min(strip, n - j0);
      if (accumulate) for (let i = 0; i < m; i++) c.set(out.subarray(i * n + j0, i * n + j0 + w), i * w);
      this.exports.gemm(aPtr, b.buffer.ptr + 4 * j0 * k, cPtr, biasPtr === 0 ? 0 : biasPtr + 4 * j0, m, w, k, flags, scratchPtr, mc);
      for (let i = 0; i < m; i++) out.set(c.subarray(i * w, (i + 1) * w), i * n + j0);
    }
  }

  /**
   * Staging space for {@link matmul} (and NodeGemmPool, so {@link stagingBytes} covers both): A
   * (`aFloats`) and C (`cFloats`) in one reusable arena of max(budget, both) floats, and a separate
   * bias buffer; undefined for 0 floats. The arena is allocated once at the budget (only the pages
   * actually written become resident), so alternating product shapes never fragment the heap with
   * ever larger staging buffers; one larger than the budget (at least mr rows of a huge row) is
   * cut back on the next call that needs less. Contents are unspecified. May grow the memory.
   */
  stagingBuffers(aFloats: number, cFloats: number, biasFloats: number): [WasmF32Buffer | undefined, WasmF32Buffer | undefined, WasmF32Buffer | undefined] {
    const aReserved = Math.ceil(aFloats / (ALIGN / 4)) * (ALIGN / 4);
    const need = aReserved + cFloats;
    const budgetFloats = Math.floor(this.stagingBudgetBytes / 4);
    const size = Math.max(need, budgetFloats);
    let arena = this.arena;
    if (need > 0 && (arena === undefined || arena.length < need || arena.length > size)) {
      if (arena !== undefined) this.free(arena);
      try {
        arena = this.allocBuffer(size);
      } catch (error) {
        if (size === need) throw error;
        arena = this.allocBuffer(need); // a budget too large for the memory: just what is needed
      }
      this.arena = arena;
    }
    const at = (offset: number, floats: number): WasmF32Buffer | undefined =>
      floats > 0 ? new Slice(arena!, offset, floats) : undefined;
    const bias = biasFloats > 0 ? this.stageBias(biasFloats) : undefined;
    return [at(0, aFloats), at(aReserved, cFloats), bias];
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

  /** The bias staging buffer with at least `floats` floats, reusing the previous one when big enough. */
  private stageBias(floats: number): Block {
    const cur = this.biasStaging;
    if (cur !== undefined && cur.length >= floats) return cur;
    if (cur !== undefined) this.free(cur);
    this.biasStaging = this.allocBuffer(floats);
    return this.biasStaging;
  }

  /** Frees matmul's cached staging buffers (they are kept between calls to avoid re-allocation). */
  releaseStaging(): void {
    for (const buf of [this.arena, this.biasStaging]) if (buf !== undefined) this.free(buf);
    this.arena = undefined;
    this.biasStaging = undefined;
  }
}
