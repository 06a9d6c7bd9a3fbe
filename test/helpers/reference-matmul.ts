/**
 * Plain-TypeScript reference GEMM (the fallback when WebAssembly SIMD is unavailable, and the
 * oracle for tests): out[m,n] = a[m,k] · b[k,n] (+ bias[n]), all row-major.
 *
 * i-k-j loop order: the inner loop streams rows of b and one row of the accumulator contiguously
 * (four k steps per sweep). Each output row is accumulated in float64 and rounded to float32 once
 * at the end, so the result is as exact as float32 inputs allow (up to summation order in double).
 */
import { InputError } from "../../src/errors.ts";

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
    let p = 0;
    // Four rows of b per sweep over the accumulator row (halves the loads/stores of `row`).
    for (; p + 4 <= k; p += 4) {
      const a0 = a[aRow + p];
      const a1 = a[aRow + p + 1];
      const a2 = a[aRow + p + 2];
      const a3 = a[aRow + p + 3];
      const b0 = p * n;
      const b1 = b0 + n;
      const b2 = b1 + n;
      const b3 = b2 + n;
      for (let j = 0; j < n; j++) row[j] += a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j];
    }
    for (; p < k; p++) {
      const aip = a[aRow + p];
      const bRow = p * n;
      for (let j = 0; j < n; j++) row[j] += aip * b[bRow + j];
    }
    const outRow = i * n;
    for (let j = 0; j < n; j++) out[outRow + j] = row[j];
  }
}
