import { InputError } from "../errors.ts";
import { logSumExpRows } from "./log-sum-exp.ts";
import type { MatmulBackend, PreparedWeight } from "./matmul.ts";

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
 */
export function productLogSumExp(
  backend: MatmulBackend, a: Float32Array, m: number, w: PreparedWeight, pick: ArrayLike<number>,
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
  const block = new Float32Array(Math.min(m, blockRows) * outDim);
  for (let r0 = 0; r0 < m; r0 += blockRows) {
    const rows = Math.min(blockRows, m - r0);
    const product = block.subarray(0, rows * outDim);
    backend.matmul(a.subarray(r0 * inDim, (r0 + rows) * inDim), rows, w, product, null);
    options.adjust?.(product, r0, rows);
    logSumExp.set(logSumExpRows(product, outDim), r0);
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < pick.length; t++) picked[(r0 + r) * pick.length + t] = product[r * outDim + pick[t]!]!;
    }
  }
  return { logSumExp, picked };
}
