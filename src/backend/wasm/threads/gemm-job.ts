/**
 * The GEMM job protocol, main thread's side (the workers' side is in node-pool-worker.ts): one
 * product cut into chunks of column panel groups × row blocks, taken from a shared counter by the
 * main thread and the workers, its ordinary-array operands staged in blocks through two slots
 * (staging-ring.ts) while the threads compute.
 */
import { Gpt2LensError, InputError } from "../../../errors.ts";
import type { PackedMatrix } from "../gemm/packing.ts";
import { spareStrips, stagingBlockRows, stagingStripColumns } from "../gemm/staging.ts";
import { GEMM_FLAG_ACCUMULATE, maxRowBlock, panelCount, rowBlockRows } from "../kernels/gemm-kernel.ts";
import { CONTROL, JOB, JOB_KIND } from "./node-pool-worker.ts";
import type { PoolWorker, WasmThreadPool } from "./node-wasm-thread-pool.ts";
import { StagingRing } from "./staging-ring.ts";

/** How a matmul is cut into chunks (see node-pool-worker.ts). */
interface ChunkPlan {
  chunkRows: number;
  rowChunks: number;
  groupPanels: number;
  panels: number;
  chunks: number;
}

/**
 * Cuts a block of m rows × n columns into chunks: `threads` panel groups (each at least
 * minChunkPanels wide, else one group) × row chunks of `chunkRows`, the kernel's row block for
 * the product (rowBlockRows; each chunk runs as one row block); when that gives fewer than 4
 * chunks per thread (few rows), narrower panel groups. A column strip (`strips`) is cut into
 * just `threads` chunks, by rows first: a job has many strips to balance the threads with, and
 * each chunk packs its rows of A again (on the 50257-column unembedding, 2 or 4 chunks per thread
 * per strip took 2–5 % more CPU time than 1).
 */
function planChunks(m: number, n: number, nr: number, minChunkPanels: number, threads: number, chunkRows: number, strips: boolean): ChunkPlan {
  const panels = panelCount(n, nr);
  const rowChunks = Math.ceil(m / chunkRows);
  const maxGroups = Math.max(1, Math.floor(panels / minChunkPanels));
  let groups = strips ? 1 : Math.min(threads, maxGroups);
  const target = strips ? threads : 4 * threads;
  if (rowChunks * groups < target) groups = Math.min(maxGroups, Math.ceil(target / rowChunks));
  const groupPanels = Math.ceil(panels / groups);
  groups = Math.ceil(panels / groupPanels);
  return { chunkRows, rowChunks, groupPanels, panels, chunks: rowChunks * groups };
}

function checkLength(where: string, name: string, arr: Float32Array, expected: number, shape: string): void {
  if (arr.length !== expected) {
    throw new InputError(`${where}: ${name} has ${arr.length} elements, expected ${shape} = ${expected}`);
  }
}

/**
 * out[m,n] = a[m,k] · B (+ bias[n]) (with `accumulate`, out +=) split over the main thread and
 * `workers` (ready workers of `pool`; at least one). See WasmThreadPool.matmul for the contract.
 */
export function runGemmJob(
  pool: WasmThreadPool, where: string, workers: readonly PoolWorker[],
  a: Float32Array, m: number, b: PackedMatrix, out: Float32Array, bias: Float32Array | undefined, accumulate: boolean,
  spare: readonly Float32Array[] | undefined,
): void {
  const { k, n } = b;
  const gemm = pool.gemm;
  checkLength(where, "a", a, m * k, `m·k = ${m}·${k}`);
  checkLength(where, "out", out, m * n, `m·n = ${m}·${n}`);
  if (bias !== undefined) checkLength(where, "bias", bias, n, `n = ${n}`);

  // Use views of the shared memory in place (unless `a`/`bias` overlap `out`), also views taken
  // before a growth (their buffer object differs from the current one, their addresses do not).
  const inMemory = (x: Float32Array): boolean => pool.isMemoryView(x);
  const overlaps = (x: Float32Array, y: Float32Array): boolean =>
    (x.buffer === y.buffer || (inMemory(x) && inMemory(y))) &&
    x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
  const outIn = inMemory(out);
  const aOverlapsOut = overlaps(a, out);
  const aIn = inMemory(a) && !(outIn && aOverlapsOut);
  const biasIn = bias !== undefined && inMemory(bias) && !(outIn && overlaps(bias, out));

  // Row blocks: all rows when the staged rows fit the budget (or `a` overlaps `out`: A must
  // then be copied whole before anything is written); else, when C is staged, column strips of
  // all rows through two slots (A staged whole, if at all; see stagingStripColumns); else
  // blocks through two slots of half the budget each.
  const nr = pool.nr;
  const rowBytes = 4 * ((aIn ? 0 : k) + (outIn ? 0 : n));
  const budget = gemm.stagingBudgetBytes;
  const blocking = { mr: gemm.layout.mr, mc: maxRowBlock(gemm.layout, k, n) };
  const oneBlock = aOverlapsOut || stagingBlockRows(m, rowBytes, budget, blocking) === m;
  const stripped = !oneBlock && !outIn && gemm.columnStrips;
  const usable = stripped ? (spare ?? []).filter((x) => inMemory(x) && !overlaps(x, a) && !(bias !== undefined && overlaps(x, bias))) : [];
  const lent = stripped ? spareStrips(usable, m, n, nr, 2) : null;
  const strip = !stripped ? 0 : lent?.strip ?? stagingStripColumns(m, n, nr, 2, budget - 128 - (aIn ? 0 : 4 * m * k));
  const blockRows = oneBlock || strip > 0 ? m : stagingBlockRows(m, 2 * rowBytes, budget, blocking);
  const blocks = strip > 0 ? Math.ceil(n / strip) : Math.ceil(m / blockRows);
  const slots = Math.min(blocks, 2);

  // Allocations may grow the (shared) memory: pointers and existing views stay valid.
  const threads = 1 + workers.length;
  const scratchPtr = pool.scratchFor(k, threads);
  const [aStage, cStage, biasStage] = gemm.stagingBuffers(
    aIn ? 0 : strip > 0 ? m * k : slots * blockRows * k,
    outIn || lent !== null ? 0 : slots * (strip > 0 ? m * strip : blockRows * n),
    bias === undefined || biasIn ? 0 : n,
  );
  const aPtr = aStage === undefined ? a.byteOffset : aStage.ptr;
  // A strip's C slots: the lent buffers, or the arena's first two strips.
  const cStaged = cStage?.view();
  const stripSlots = strip === 0 ? [] : lent?.views ?? [0, 1].map((s) => cStaged!.subarray(s * m * strip, (s + 1) * m * strip));
  const cPtr = strip > 0 ? stripSlots[0]!.byteOffset : cStage === undefined ? out.byteOffset : cStage.ptr;
  let biasPtr = biasIn ? bias.byteOffset : 0;
  if (bias !== undefined && biasStage !== undefined) {
    biasStage.view().subarray(0, n).set(bias);
    biasPtr = biasStage.ptr;
  }

  const flags = accumulate ? GEMM_FLAG_ACCUMULATE : 0;
  const chunkRows = rowBlockRows(gemm.layout, k, n, blockRows);
  const { rowChunks, groupPanels, panels, chunks: perBlock } = planChunks(blockRows, strip > 0 ? strip : n, nr, pool.minChunkPanels, threads, chunkRows, strip > 0);
  const chunks = blocks * perBlock;
  const offered = pool.testSchedule === "main" ? [] : workers;
  const job = pool.job;
  const chunkFlags = pool.chunkFlags(chunks);
  const ring = new StagingRing({
    job, chunkFlags, a, out, m, n, k, nr, accumulate, strip, blockRows, blocks, slots, perBlock, rowChunks, chunkRows, groupPanels,
    aStaged: aStage?.view(), cStaged, stripSlots,
  });

  const args = [aPtr, b.buffer.ptr, cPtr, biasPtr, m, n, k, flags] as const;
  for (let i = 0; i < args.length; i++) job[JOB.ARGS + i] = args[i] | 0;
  job[JOB.CHUNK_ROWS] = chunkRows;
  job[JOB.ROW_CHUNKS] = rowChunks;
  job[JOB.GROUP_PANELS] = groupPanels;
  job[JOB.PANELS] = panels;
  job[JOB.CHUNKS] = chunks;
  job[JOB.KIND] = JOB_KIND.GEMM;
  job[JOB.CHUNK_FLAGS] = chunkFlags.byteOffset | 0;
  job[JOB.BLOCK_ROWS] = blockRows;
  job[JOB.CHUNKS_PER_BLOCK] = perBlock;
  job[JOB.A_SLOTS] = aStage === undefined ? 0 : slots;
  job[JOB.C_SLOTS] = strip > 0 || cStage !== undefined ? slots : 0;
  job[JOB.STRIP_COLS] = strip;
  job[JOB.C_SLOT_BYTES] = slots > 1 && strip > 0 ? (stripSlots[1]!.byteOffset - stripSlots[0]!.byteOffset) | 0 : 0;
  job[JOB.NR] = nr;
  Atomics.store(job, JOB.READY, 0);
  Atomics.store(job, JOB.NEXT, 0);
  // The first blocks' inputs go in before the workers are woken (the rest while they compute).
  for (let s = 0; s < slots; s++) ring.publish();

  // Fork: offer the job to every ready worker, then take chunks here too.
  for (let w = 0; w < offered.length; w++) {
    offered[w]!.control[CONTROL.SCRATCH] = (scratchPtr + (w + 1) * pool.scratchStride * 4) | 0;
  }
  pool.post(offered);
  let failure: unknown;
  let joined: PoolWorker[] = [];
  try {
    if (pool.testSchedule === "workers") pool.waitJoined(offered);
    for (;;) {
      const chunk = pool.testSchedule === "workers" ? chunks : Atomics.add(job, JOB.NEXT, 1);
      if (chunk >= chunks) break;
      const block = Math.floor(chunk / perBlock);
      // Every chunk before this one has been taken: the oldest blocks finish without us.
      while (block >= ring.published) ring.finishOldest();
      const local = chunk - block * perBlock;
      const g = Math.floor(local / rowChunks);
      const m0 = (local - g * rowChunks) * chunkRows;
      const p0 = g * groupPanels;
      // The block's operands, as in node-pool-worker.ts.
      let [mb, nb, pb, aBlock, bBlock, cBlock, biasBlock] = [m, n, panels, aPtr, b.buffer.ptr, cPtr, biasPtr];
      if (strip === 0) {
        mb = Math.min(blockRows, m - block * blockRows);
        aBlock += (aStage === undefined ? block : block % slots) * blockRows * k * 4;
        cBlock += (cStage === undefined ? block : block % slots) * blockRows * n * 4;
      } else {
        const j0 = block * strip;
        nb = Math.min(strip, n - j0);
        pb = Math.ceil(nb / nr);
        bBlock += j0 * k * 4;
        biasBlock = biasPtr === 0 ? 0 : biasPtr + j0 * 4;
        cBlock = stripSlots[block % slots]!.byteOffset;
      }
      try {
        if (m0 < mb && p0 < pb) {
          gemm.exports.gemmRange(
            aBlock, bBlock, cBlock, biasBlock, mb, nb, k, flags,
            scratchPtr, chunkRows, m0, Math.min(mb, m0 + chunkRows), p0, Math.min(pb, p0 + groupPanels),
          );
        }
      } catch (error) {
        failure ??= error;
      }
      ring.harvest(chunk);
      ring.poll();
    }
    // Join: withdraw the job from workers that have not started on it (they took no chunks),
    // harvest the chunks the others finish as they finish them, then wait for them to be done.
    joined = offered.filter((w) => pool.claimed(w));
    while (ring.retired < blocks) ring.finishOldest();
  } finally {
    // Never leave a worker waiting for a block (only reachable here if copying threw).
    if (ring.published < blocks) {
      Atomics.store(job, JOB.READY, blocks);
      Atomics.notify(job, JOB.READY);
      if (joined.length === 0) joined = offered.filter((w) => pool.claimed(w));
    }
    for (const w of joined) pool.waitDone(w);
  }
  const workerFailed = joined.some((w) => pool.failed(w));
  if (failure !== undefined) {
    throw new Gpt2LensError("gemm_failed", `${where}: the GEMM kernel failed: ${(failure as Error).message}`, { cause: failure });
  }
  if (workerFailed) throw new Gpt2LensError("gemm_failed", `${where}: the GEMM kernel failed in a worker thread`);
}
