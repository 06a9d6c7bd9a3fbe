/**
 * The main thread's side of a GEMM job's staging (see gemm-job.ts): A and C go through `slots`
 * (one or two) staging slots of a row block or column strip each. Workers flag each chunk they
 * finish in `chunkFlags`; the main thread "harvests" finished chunks (copies a staged C chunk out),
 * and once every chunk of a block is harvested its slots are free for the block two further on
 * ("publishing" it: copying its rows of A, and of C when accumulating, in and raising job[READY]).
 */
import { JOB } from "./node-pool-worker.ts";

/** A GEMM job's shape and staging, as gemm-job.ts planned them. */
export interface StagingRingPlan {
  readonly job: Int32Array;
  readonly chunkFlags: Int32Array;
  readonly a: Float32Array;
  readonly out: Float32Array;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Panel width. */
  readonly nr: number;
  readonly accumulate: boolean;
  /** Columns per strip (0: row blocks of blockRows rows). */
  readonly strip: number;
  readonly blockRows: number;
  readonly blocks: number;
  readonly slots: number;
  /** Chunks per block, in panel groups of groupPanels × row chunks of chunkRows. */
  readonly perBlock: number;
  readonly rowChunks: number;
  readonly chunkRows: number;
  readonly groupPanels: number;
  /** The staged A (undefined: used in place). */
  readonly aStaged: Float32Array | undefined;
  /** The staged C of row blocks (undefined: in place, or in strip slots). */
  readonly cStaged: Float32Array | undefined;
  /** A strip's C slots. */
  readonly stripSlots: readonly Float32Array[];
}

export class StagingRing {
  /** Blocks whose inputs are in their slots (job[READY]). */
  published = 0;
  /** Blocks whose chunks are all harvested, in order. */
  retired = 0;
  private scan = 0;
  private readonly chunks: number;
  private readonly harvested: Uint8Array;
  private readonly left: Int32Array;

  constructor(private readonly plan: StagingRingPlan) {
    this.chunks = plan.blocks * plan.perBlock;
    this.harvested = new Uint8Array(this.chunks);
    this.left = new Int32Array(plan.blocks).fill(plan.perBlock);
  }

  /** Copies the next block's inputs into its slot and tells the workers it is ready. */
  publish(): void {
    const { a, out, m, n, k, accumulate, strip, blockRows, slots, aStaged, cStaged, stripSlots, job } = this.plan;
    const block = this.published;
    const slot = block % slots;
    if (strip > 0) {
      if (aStaged !== undefined && block === 0) aStaged.set(a);
      if (accumulate) {
        const j0 = block * strip;
        const w = Math.min(strip, n - j0);
        for (let i = 0; i < m; i++) stripSlots[slot]!.set(out.subarray(i * n + j0, i * n + j0 + w), i * w);
      }
    } else {
      const i0 = block * blockRows;
      const rows = Math.min(blockRows, m - i0);
      if (aStaged !== undefined) aStaged.set(a.subarray(i0 * k, (i0 + rows) * k), slot * blockRows * k);
      if (cStaged !== undefined && accumulate) cStaged.set(out.subarray(i0 * n, (i0 + rows) * n), slot * blockRows * n);
    }
    this.published++;
    Atomics.store(job, JOB.READY, this.published);
    Atomics.notify(job, JOB.READY);
  }

  /** Marks a finished chunk harvested, copying its staged C out. */
  harvest(chunk: number): void {
    const { out, m, n, nr, strip, blockRows, slots, perBlock, rowChunks, chunkRows, groupPanels, cStaged, stripSlots } = this.plan;
    this.harvested[chunk] = 1;
    const block = Math.floor(chunk / perBlock);
    this.left[block]--;
    if (cStaged === undefined && strip === 0) return;
    const local = chunk - block * perBlock;
    const g = Math.floor(local / rowChunks);
    const m0 = (local - g * rowChunks) * chunkRows;
    if (strip > 0) {
      const j0 = block * strip;
      const w = Math.min(strip, n - j0);
      const m1 = Math.min(m, m0 + chunkRows);
      const c0 = g * groupPanels * nr;
      const c1 = Math.min(w, c0 + groupPanels * nr);
      const c = stripSlots[block % slots]!;
      for (let i = m0; c0 < c1 && i < m1; i++) out.set(c.subarray(i * w + c0, i * w + c1), i * n + j0 + c0);
      return;
    }
    const i0 = block * blockRows;
    const mb = Math.min(blockRows, m - i0);
    const m1 = Math.min(mb, m0 + chunkRows);
    if (m0 >= m1) return;
    const base = (block % slots) * blockRows * n;
    const j0 = g * groupPanels * nr;
    const j1 = Math.min(n, j0 + groupPanels * nr);
    if (cStaged === undefined) return;
    if (j0 === 0 && j1 === n) out.set(cStaged.subarray(base + m0 * n, base + m1 * n), (i0 + m0) * n);
    else {
      for (let i = m0; i < m1; i++) out.set(cStaged.subarray(base + i * n + j0, base + i * n + j1), (i0 + i) * n + j0);
    }
  }

  /** Retires fully harvested blocks in order, publishing the block that takes over each slot. */
  private retire(): void {
    while (this.retired < this.published && this.left[this.retired] === 0) {
      this.retired++;
      if (this.published < this.plan.blocks) this.publish();
    }
  }

  /** Harvests the chunks workers have finished so far, without waiting. */
  poll(): void {
    const { chunkFlags, perBlock } = this.plan;
    const end = this.published * perBlock;
    for (let chunk = this.scan; chunk < end; chunk++) {
      if (this.harvested[chunk] === 0 && Atomics.load(chunkFlags, chunk) !== 0) this.harvest(chunk);
    }
    while (this.scan < this.chunks && this.harvested[this.scan] === 1) this.scan++;
    this.retire();
  }

  /** Waits for (and harvests) the rest of the oldest unretired block; publishes its successor. */
  finishOldest(): void {
    const { chunkFlags, perBlock } = this.plan;
    const end = (this.retired + 1) * perBlock;
    for (let chunk = this.retired * perBlock; chunk < end; chunk++) {
      if (this.harvested[chunk] === 1) continue;
      while (Atomics.load(chunkFlags, chunk) === 0) Atomics.wait(chunkFlags, chunk, 0, 1000);
      this.harvest(chunk);
    }
    this.retire();
  }
}
