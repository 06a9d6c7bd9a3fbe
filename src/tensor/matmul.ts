import { InputError } from "../errors.ts";
import { matmulRowMajor } from "./reference-kernels.ts";
import { shapeToString, Tensor } from "./tensor.ts";

/**
 * Batched matrix product over matching leading axes: a [..., m, k] · b [..., k, n] → [..., m, n]
 * (e.g. attention scores q·kᵀ per batch and head after a permute).
 */
export function batchedMatmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank < 2 || b.rank !== a.rank || a.shape.slice(0, -2).some((d, i) => d !== b.shape[i])) {
    throw new InputError(
      `batchedMatmul: shapes ${shapeToString(a.shape)} and ${shapeToString(b.shape)} need equal leading axes and rank ≥ 2`,
      "shape_mismatch",
    );
  }
  const m = a.shape[a.rank - 2]!, k = a.shape[a.rank - 1]!, n = b.shape[b.rank - 1]!;
  if (b.shape[b.rank - 2] !== k) {
    throw new InputError(`batchedMatmul: inner sizes differ, ${shapeToString(a.shape)} · ${shapeToString(b.shape)}`, "shape_mismatch");
  }
  const batches = a.size / (m * k || 1);
  const out = new Float32Array(batches * m * n);
  for (let i = 0; i < batches; i++) {
    matmulRowMajor(
      a.data.subarray(i * m * k, (i + 1) * m * k), m, k, b.data.subarray(i * k * n, (i + 1) * k * n), n,
      out.subarray(i * m * n, (i + 1) * m * n), null,
    );
  }
  return new Tensor(out, [...a.shape.slice(0, -1), n]);
}
