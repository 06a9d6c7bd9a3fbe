/**
 * Plain TypeScript matmul kernels: the reference every faster backend is tested against, and the
 * fallback where WebAssembly SIMD is missing. 4×4 register blocks keep sixteen accumulators in
 * locals, which is what makes JavaScript loops reach a few GFLOP/s instead of one.
 */

/** out[m, n] = a[m, k] · b[k, n] (+ bias), b row-major. */
export function matmulRowMajor(
  a: Float32Array, m: number, k: number, b: Float32Array, n: number, out: Float32Array, bias: Float32Array | null,
): void {
  const mBlock = m - (m % 4);
  const nBlock = n - (n % 4);
  for (let i = 0; i < mBlock; i += 4) {
    const a0 = i * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
    for (let j = 0; j < nBlock; j += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0; p < k; p++) {
        const bp = p * n + j;
        const b0 = b[bp]!, b1 = b[bp + 1]!, b2 = b[bp + 2]!, b3 = b[bp + 3]!;
        const x0 = a[a0 + p]!, x1 = a[a1 + p]!, x2 = a[a2 + p]!, x3 = a[a3 + p]!;
        c00 += x0 * b0; c01 += x0 * b1; c02 += x0 * b2; c03 += x0 * b3;
        c10 += x1 * b0; c11 += x1 * b1; c12 += x1 * b2; c13 += x1 * b3;
        c20 += x2 * b0; c21 += x2 * b1; c22 += x2 * b2; c23 += x2 * b3;
        c30 += x3 * b0; c31 += x3 * b1; c32 += x3 * b2; c33 += x3 * b3;
      }
      store4(out, i * n + j, c00, c01, c02, c03, bias, j);
      store4(out, (i + 1) * n + j, c10, c11, c12, c13, bias, j);
      store4(out, (i + 2) * n + j, c20, c21, c22, c23, bias, j);
      store4(out, (i + 3) * n + j, c30, c31, c32, c33, bias, j);
    }
    for (let r = i; r < i + 4; r++) rowTail(a, r, k, b, n, nBlock, out, bias);
  }
  for (let r = mBlock; r < m; r++) rowTail(a, r, k, b, n, 0, out, bias);
}

function store4(
  out: Float32Array, o: number, c0: number, c1: number, c2: number, c3: number, bias: Float32Array | null, j: number,
): void {
  if (bias) {
    c0 += bias[j]!; c1 += bias[j + 1]!; c2 += bias[j + 2]!; c3 += bias[j + 3]!;
  }
  out[o] = c0; out[o + 1] = c1; out[o + 2] = c2; out[o + 3] = c3;
}

/** Columns [fromCol, n) of row r, one dot product at a time. */
function rowTail(
  a: Float32Array, r: number, k: number, b: Float32Array, n: number, fromCol: number, out: Float32Array,
  bias: Float32Array | null,
): void {
  for (let j = fromCol; j < n; j++) {
    let acc = 0;
    for (let p = 0; p < k; p++) acc += a[r * k + p]! * b[p * n + j]!;
    out[r * n + j] = acc + (bias ? bias[j]! : 0);
  }
}

/** out[m, n] = a[m, k] · btᵀ (+ bias), where bt is [n, k] row-major. */
export function matmulTransposed(
  a: Float32Array, m: number, k: number, bt: Float32Array, n: number, out: Float32Array, bias: Float32Array | null,
): void {
  const nBlock = n - (n % 4);
  for (let i = 0; i < m; i++) {
    const ar = i * k;
    for (let j = 0; j < nBlock; j += 4) {
      const b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
      let c0 = 0, c1 = 0, c2 = 0, c3 = 0;
      for (let p = 0; p < k; p++) {
        const x = a[ar + p]!;
        c0 += x * bt[b0 + p]!; c1 += x * bt[b1 + p]!; c2 += x * bt[b2 + p]!; c3 += x * bt[b3 + p]!;
      }
      store4(out, i * n + j, c0, c1, c2, c3, bias, j);
    }
    for (let j = nBlock; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += a[ar + p]! * bt[j * k + p]!;
      out[i * n + j] = acc + (bias ? bias[j]! : 0);
    }
  }
}
