/**
 * Plain-TypeScript reference GEMM (the fallback when WebAssembly SIMD is unavailable, and the
 * oracle for tests): out[m,n] = a[m,k] · b[k,n] (+ bias[n]), all row-major.
 *
 * i-k-j loop order: the inner loop streams one row of b and one row of the accumulator
 * contiguously. Each output row is accumulated in float64 and rounded to float32 once at the end,
 * so the result is as exact as float32 inputs allow (up to summation order in double).
 */
import { InputError } from "../../errors.ts";

export function matmulReference(
  a: Float32Array,
  m: number,
  k: number,
  b: Float32Array,
  n: number,
  out: Float32Array,
  bias?: Float32Array,
): void {
  for (const [name, v] of [["m", m], ["k", k], ["n", n]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new InputError(`matmulReference: ${name}=${v} must be a non-negative integer`);
  }
  if (a.length !== m * k) throw new InputError(`matmulReference: a has ${a.length} elements, expected m·k = ${m}·${k}`);
  if (b.length !== k * n) throw new InputError(`matmulReference: b has ${b.length} elements, expected k·n = ${k}·${n}`);
  if (out.length !== m * n) throw new InputError(`matmulReference: out has ${out.length} elements, expected m·n = ${m}·${n}`);
  if (bias !== undefined && bias.length !== n) {
    throw new InputError(`matmulReference: bias has ${bias.length} elements, expected n = ${n}`);
  }
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    if (bias !== undefined) for (let j = 0; j < n; j++) row[j] = bias[j];
    else row.fill(0);
    const aRow = i * k;
    for (let p = 0; p < k; p++) {
      const aip = a[aRow + p];
      const bRow = p * n;
      for (let j = 0; j < n; j++) row[j] += aip * b[bRow + j];
    }
    const outRow = i * n;
    for (let j = 0; j < n; j++) out[outRow + j] = row[j];
  }
}
