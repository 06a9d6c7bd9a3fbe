import { InputError } from "../errors.ts";
import { LOG_SUM_EXP_TAIL_PAD, logSumExpRows, logSumExpRowsInMemory } from "./log-sum-exp.ts";
import type { BackendWorkspace, Backend, PreparedWeight } from "./backend.ts";

export interface ProductLogSumExp {
  /** log Σ_j exp((a·W)[r, j]) per row, [m]. */
  readonly logSumExp: Float64Array;
  /** (a·W)[r, pick[t]], [m, pick.length]. */
  readonly picked: Float32Array;
}

export interface ProductLogSumExpOptions {
  /** Bytes of the product held at once (default 32 MiB). */
  readonly blockBytes?: number;
  /**
   * Rewrites a block of the product ([rows, outDim], starting at row firstRow) in place before it is
   * reduced, e.g. to add a base and rescale rows: the reduction then applies to the rewritten values.
   * The block is only valid during the call (it may be a view of the backend's memory, reused).
   */
  readonly adjust?: (block: Float32Array, firstRow: number, rows: number) => void;
}

/** Bytes of the product held at once when the rows are processed in blocks (default 32 MiB). */
const DEFAULT_BLOCK_BYTES = 32 << 20;

/**
 * For each row of a[m, inDim]·W: the log-sum-exp over all outDim columns and the values at the
 * `pick` columns, without holding the [m, outDim] product: rows go through in blocks of at most
 * `blockBytes` of it (e.g. a softmax over GPT-2's 50257 tokens for thousands of patched rows). The
 * numbers equal logSumExpRows of the full product (a row's products do not depend on the others).
 *
 * With a backend workspace the blocks live in it, so the backend's matmul writes them in place (no
 * staging copy), and when the workspace names its memory the log-sum-exp kernel reads them there
 * too (else it copies them into its own memory, as it does plain blocks), with the workspace's own
 * log-sum-exp when it has one (the worker pool's splits the rows over its threads). The buffer is kept per
 * workspace and reused by later calls; a call made while another holds it (from `adjust`), or when
 * the workspace cannot allocate, uses plain arrays. The numbers are the same either way.
 */
export function productLogSumExp(
  backend: Backend, a: Float32Array, m: number, w: PreparedWeight, pick: ArrayLike<number>,
  options: ProductLogSumExpOptions = {},
): ProductLogSumExp {
  const { inDim, outDim } = w;
  if (!Number.isInteger(m) || m < 0 || a.length !== m * inDim) {
    throw new InputError(`productLogSumExp: a has ${a.length} values, expected m·inDim = ${m}·${inDim}`, "shape_mismatch");
  }
  for (let t = 0; t < pick.length; t++) {
    const column = pick[t]!;
    if (!Number.isInteger(column) || column < 0 || column >= outDim) {
      throw new InputError(`productLogSumExp: pick[${t}] = ${column} is outside [0, ${outDim})`, "index_out_of_range");
    }
  }
  const blockRows = Math.max(1, Math.floor((options.blockBytes ?? DEFAULT_BLOCK_BYTES) / (4 * Math.max(outDim, 1))));
  const logSumExp = new Float64Array(m);
  const picked = new Float32Array(m * pick.length);
  if (m === 0) return { logSumExp, picked };
  const buffers = takeBlock(backend.workspace, Math.min(m, blockRows), outDim);
  try {
    for (let r0 = 0; r0 < m; r0 += blockRows) {
      const rows = Math.min(blockRows, m - r0);
      const product = buffers.block.subarray(0, rows * outDim);
      backend.matmul(a.subarray(r0 * inDim, (r0 + rows) * inDim), rows, w, product, null);
      options.adjust?.(product, r0, rows);
      logSumExp.set(buffers.logSumExpRows(product, outDim), r0);
      for (let r = 0; r < rows; r++) {
        for (let t = 0; t < pick.length; t++) picked[(r0 + r) * pick.length + t] = product[r * outDim + pick[t]!]!;
      }
    }
  } finally {
    buffers.end();
  }
  return { logSumExp, picked };
}

interface BlockBuffers {
  /** Room for the block, [rows, outDim]. */
  readonly block: Float32Array;
  /** logSumExpRows on (a prefix of) `block`. */
  readonly logSumExpRows: (values: Float32Array, cols: number) => Float64Array;
  /** Gives the buffers back. */
  end(): void;
}

interface WorkspaceState {
  busy: boolean;
  /** The workspace buffer kept between calls (block, tail pad, kernel stats). */
  buffer: Float32Array | undefined;
}

const workspaceStates = new WeakMap<BackendWorkspace, WorkspaceState>();

/**
 * Buffers for blocks of `rows` × `cols`: in the workspace (kept for the next call; a larger block
 * replaces it), else — no workspace, another call holds it, or it cannot allocate — plain arrays.
 */
function takeBlock(workspace: BackendWorkspace | undefined, rows: number, cols: number): BlockBuffers {
  let state = workspace === undefined ? undefined : workspaceStates.get(workspace);
  if (workspace !== undefined && state === undefined) {
    state = { busy: false, buffer: undefined };
    workspaceStates.set(workspace, state);
  }
  const plain = (): BlockBuffers => ({ block: new Float32Array(rows * cols), logSumExpRows, end: () => {} });
  if (workspace === undefined || state === undefined || state.busy) return plain();
  // Layout: the block, the kernel's readable tail pad, then 2 float64s of kernel output per row
  // (one float of slack to align them to 8 bytes).
  const padded = rows * cols + LOG_SUM_EXP_TAIL_PAD / 4;
  const floats = padded + 1 + 4 * rows;
  let buffer = state.buffer;
  if (buffer === undefined || buffer.length < floats) {
    state.buffer = undefined;
    if (buffer !== undefined) workspace.release(buffer);
    try {
      buffer = workspace.alloc(floats);
    } catch {
      return plain(); // e.g. a memory near the 4 GiB wasm32 limit
    }
    state.buffer = buffer;
  }
  state.busy = true;
  const block = buffer.subarray(0, rows * cols);
  const { memory } = workspace;
  let reduce: BlockBuffers["logSumExpRows"] = logSumExpRows;
  if (memory !== undefined) {
    const statsByte = Math.ceil((buffer.byteOffset + 4 * padded) / 8) * 8;
    const stats = new Float64Array(buffer.buffer, statsByte, 2 * rows);
    reduce = workspace.logSumExpRows !== undefined
      ? (values, width) => workspace.logSumExpRows!(values, width, stats)
      : (values, width) => logSumExpRowsInMemory(memory, values, width, stats);
  }
  const held = state;
  return { block, logSumExpRows: reduce, end: () => void (held.busy = false) };
}
