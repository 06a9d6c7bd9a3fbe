import { InputError } from "../../errors.ts";
import { matmulRowMajor, matmulTransposed } from "../../tensor/reference-kernels.ts";
import type { Backend } from "../backend.ts";

/**
 * Plain TypeScript: the reference every faster backend is tested against, and the fallback where
 * WebAssembly SIMD is missing. Its prepared weights are the row-major arrays themselves, and every
 * other op takes the plain-TypeScript fallback.
 */
export const referenceBackend: Backend = {
  name: "reference",
  prepare(w, inDim, outDim) {
    checkLength("weight", w, inDim * outDim);
    return { inDim, outDim, rowMajor: w, transposed: null };
  },
  prepareTransposed(wt, outDim, inDim) {
    checkLength("transposed weight", wt, inDim * outDim);
    return { inDim, outDim, rowMajor: null, transposed: wt };
  },
  matmul(a, m, w, out, bias) {
    if (w.rowMajor) matmulRowMajor(a, m, w.inDim, w.rowMajor, w.outDim, out, bias ?? null);
    else matmulTransposed(a, m, w.inDim, w.transposed!, w.outDim, out, bias ?? null);
  },
};

function checkLength(what: string, values: Float32Array, expected: number): void {
  if (values.length !== expected) {
    throw new InputError(`${what} has ${values.length} values, expected ${expected}`, "shape_mismatch");
  }
}
