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
 * Parts: the allocator (heap.ts), packing (packing.ts), the staging policy and arena (staging.ts);
 * this file drives the kernel over them.
 *
 * Performance notes. V8 first runs new wasm code in its baseline compiler and tiers hot functions
 * up in the background, so the first call or two are slower. Engines without trap-handler bounds
 * checks (Deno as of 2.x) pay an explicit bounds check per load and run this kernel ~3x slower.
 */
import { InputError } from "../../../errors.ts";
import {
  GEMM_FLAG_ACCUMULATE,
  maxRowBlock,
  rowBlockRows,
  scratchFloats,
  type GemmExports,
  type GemmKernelLayout,
  type GemmKernelOptions,
} from "../kernels/gemm-kernel.ts";
import { wasmRelaxedSimdSupported, wasmSimdSupported } from "../simd-support.ts";
import { type WasmMemory, webAssembly } from "../wasm-api.ts";
import { type GemmKernelConfig, instantiateGemmKernel } from "./gemm-instance.ts";
import { ALIGN, type Block, checkDim, checkLength, type WasmF32Buffer, WasmHeap } from "./heap.ts";
import { Packed, type PackedMatrix, packRowMajor, packTransposed } from "./packing.ts";
import { DEFAULT_STAGING_BUDGET_BYTES, overlaps, spareStrips, StagingArena, stagingBlockRows, stagingStripColumns } from "./staging.ts";

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

export class WasmGemm {
  readonly memory: WasmMemory;
  /** Raw exports, for callers (e.g. a worker pool) that manage pointers themselves. */
  readonly exports: GemmExports;
  /** Tiling of the generated kernel (mr, nr = panel width, kc; mc if fixed, see rowBlockRows). */
  readonly layout: GemmKernelLayout;
  /** The options the kernel was generated with (pass them to {@link instantiateGemmKernel}). */
  readonly kernelOptions: GemmKernelConfig;

  private readonly heap: WasmHeap;
  private readonly staging: StagingArena;
  /** Per-call kernel scratch (edge tile + packed A block), grown on demand. */
  private scratch: Block | undefined;
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
    this.heap = new WasmHeap(memory);
    this.staging = new StagingArena(this.heap, stagingBudgetBytes);
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
    return this.heap.alloc(floats);
  }

  /** Returns a buffer to the allocator. Its views must not be used afterwards. */
  free(buf: WasmF32Buffer): void {
    this.heap.free(buf);
  }

  /** The bump pointer: end (in bytes) of the highest block ever handed out and not yet returned. */
  get heapTop(): number {
    return this.heap.heapTop;
  }

  /**
   * Bytes handed out and not yet freed (whole reserved blocks, including matmul's staging and
   * scratch): what a leak check compares before and after, e.g. a model's load and dispose.
   */
  get bytesInUse(): number {
    return this.heap.bytesInUse;
  }

  /**
   * Bytes held by matmul's A + C staging arena: 0 before anything was staged, then
   * {@link stagingBudgetBytes} (more only while a product needs more than the budget for its
   * minimum of mr rows). The bias staging, n floats, comes on top. Includes a WasmThreadPool's
   * staging, which uses the same arena.
   */
  get stagingBytes(): number {
    return this.staging.bytes;
  }

  // -------------------------------------------------------------------------------------------
  // Packing

  /** Packs B[k,n] (row-major) into column panels in wasm memory. */
  pack(b: Float32Array, k: number, n: number): PackedMatrix {
    return packRowMajor(this.heap, this.nr, b, k, n);
  }

  /**
   * Packs B given as its transpose Bᵀ[n,k] (row-major), e.g. the tied embedding W_E[vocab, d_model]
   * used as the unembedding W_U = W_Eᵀ (k = d_model, n = vocab).
   */
  packTransposed(bt: Float32Array, n: number, k: number): PackedMatrix {
    return packTransposed(this.heap, this.nr, bt, n, k);
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
    if (!(b instanceof Packed) || b.buffer.owner !== this.heap) {
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
   * Staging space for {@link matmul} (and WasmThreadPool, so {@link stagingBytes} covers both): A
   * and C in one reusable arena, and a separate bias buffer (see StagingArena.buffers).
   */
  stagingBuffers(aFloats: number, cFloats: number, biasFloats: number): [WasmF32Buffer | undefined, WasmF32Buffer | undefined, WasmF32Buffer | undefined] {
    return this.staging.buffers(aFloats, cFloats, biasFloats);
  }

  private survivesGrowth(x: Float32Array): () => Float32Array {
    return this.heap.survivesGrowth(x);
  }

  private scratchFor(k: number): Block {
    const need = scratchFloats(this.layout, k);
    if (this.scratch === undefined || this.scratch.length < need) {
      if (this.scratch !== undefined) this.free(this.scratch);
      this.scratch = this.heap.alloc(need);
    }
    return this.scratch;
  }

  /** Frees matmul's cached staging buffers (they are kept between calls to avoid re-allocation). */
  releaseStaging(): void {
    this.staging.release();
  }
}
