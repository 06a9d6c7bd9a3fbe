/**
 * How a product whose operands are not in wasm memory is staged through it: the row-block and
 * column-strip policy (pure functions of the shapes and the budget), and the reusable arena the
 * staged A and C live in.
 */
import { ALIGN, type Block, type WasmF32Buffer, type WasmHeap } from "./heap.ts";

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

/** True if two arrays share a buffer and their byte ranges intersect. */
export function overlaps(x: Float32Array, y: Float32Array): boolean {
  return x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
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

/** The reusable A + C staging arena and bias buffer of one WasmGemm (shared with its WasmThreadPool). */
export class StagingArena {
  /** Reusable staging for matmul copy-in/out: the A + C arena. */
  private arena: Block | undefined;
  /** Reusable staging for a bias that is not in this memory. */
  private biasStaging: Block | undefined;

  constructor(
    private readonly heap: WasmHeap,
    /** Bound on the A and C staging together, in bytes (see WasmGemmOptions.stagingBudgetBytes). */
    readonly budgetBytes: number,
  ) {}

  /** Bytes held by the A + C arena (see WasmGemm.stagingBytes). */
  get bytes(): number {
    return 4 * (this.arena?.length ?? 0);
  }

  /**
   * A (`aFloats`) and C (`cFloats`) in one reusable arena of max(budget, both) floats, and a separate
   * bias buffer; undefined for 0 floats. The arena is allocated once at the budget (only the pages
   * actually written become resident), so alternating product shapes never fragment the heap with
   * ever larger staging buffers; one larger than the budget (at least mr rows of a huge row) is
   * cut back on the next call that needs less. Contents are unspecified. May grow the memory.
   */
  buffers(aFloats: number, cFloats: number, biasFloats: number): [WasmF32Buffer | undefined, WasmF32Buffer | undefined, WasmF32Buffer | undefined] {
    const aReserved = Math.ceil(aFloats / (ALIGN / 4)) * (ALIGN / 4);
    const need = aReserved + cFloats;
    const budgetFloats = Math.floor(this.budgetBytes / 4);
    const size = Math.max(need, budgetFloats);
    let arena = this.arena;
    if (need > 0 && (arena === undefined || arena.length < need || arena.length > size)) {
      if (arena !== undefined) this.heap.free(arena);
      try {
        arena = this.heap.alloc(size);
      } catch (error) {
        if (size === need) throw error;
        arena = this.heap.alloc(need); // a budget too large for the memory: just what is needed
      }
      this.arena = arena;
    }
    const at = (offset: number, floats: number): WasmF32Buffer | undefined =>
      floats > 0 ? new Slice(arena!, offset, floats) : undefined;
    const bias = biasFloats > 0 ? this.stageBias(biasFloats) : undefined;
    return [at(0, aFloats), at(aReserved, cFloats), bias];
  }

  /** The bias staging buffer with at least `floats` floats, reusing the previous one when big enough. */
  private stageBias(floats: number): Block {
    const cur = this.biasStaging;
    if (cur !== undefined && cur.length >= floats) return cur;
    if (cur !== undefined) this.heap.free(cur);
    this.biasStaging = this.heap.alloc(floats);
    return this.biasStaging;
  }

  /** Frees the cached staging buffers (they are kept between calls to avoid re-allocation). */
  release(): void {
    for (const buf of [this.arena, this.biasStaging]) if (buf !== undefined) this.heap.free(buf);
    this.arena = undefined;
    this.biasStaging = undefined;
  }
}
