/** Row-major matrix helpers for weight processing: each returns a new array (sources may be shared). */

/** w [rows, cols] with row r multiplied by scale[r]. */
export function scaleRows(w: Float32Array, scale: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < scale.length; r++) {
    const s = scale[r]!;
    for (let c = 0; c < cols; c++) out[r * cols + c] = w[r * cols + c]! * s;
  }
  return out;
}

/** w [rows, cols] with column c multiplied by scale[c]. */
export function scaleColumns(w: Float32Array, scale: Float32Array): Float32Array {
  const cols = scale.length;
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = w[i]! * scale[i % cols]!;
  return out;
}

/** Each row of w [rows, cols] minus its mean. */
export function centreRows(w: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let base = 0; base < w.length; base += cols) {
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += w[base + c]!;
    mean /= cols;
    for (let c = 0; c < cols; c++) out[base + c] = w[base + c]! - mean;
  }
  return out;
}

/** Each column of w [rows, cols] minus its mean; `inPlace` overwrites w (for arrays this module made). */
export function centreColumns(w: Float32Array, cols: number, inPlace = false): Float32Array {
  const rows = w.length / cols;
  const means = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) means[c] += w[r * cols + c]!;
  for (let c = 0; c < cols; c++) means[c] /= rows;
  const out = inPlace ? w : new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = w[r * cols + c]! - means[c]!;
  return out;
}

/** v [rows] · w [rows, cols] → [cols], accumulated in float64. */
export function vectorTimesMatrix(v: Float32Array, w: Float32Array, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let r = 0; r < v.length; r++) {
    const s = v[r]!;
    if (s === 0) continue;
    for (let c = 0; c < cols; c++) out[c] += s * w[r * cols + c]!;
  }
  return out;
}

/** w [rows, cols] · v [cols] → [rows], accumulated in float64. */
export function matrixTimesVector(w: Float32Array, v: Float32Array): Float64Array {
  const cols = v.length;
  const out = new Float64Array(w.length / cols);
  for (let r = 0; r < out.length; r++) {
    let acc = 0;
    for (let c = 0; c < cols; c++) acc += w[r * cols + c]! * v[c]!;
    out[r] = acc;
  }
  return out;
}

/** v minus its mean. */
export function centred(v: Float32Array): Float32Array {
  let mean = 0;
  for (const x of v) mean += x;
  mean /= v.length;
  return v.map((x) => x - mean);
}
