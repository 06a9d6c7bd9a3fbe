import { InputError } from "../errors.ts";
import { shapeToString, Tensor } from "../tensor/tensor.ts";

/** a [m, k] · b [k, n] → [m, n] (row-major, float64 accumulation). */
function matmul(a: Float32Array, m: number, k: number, b: Float32Array, n: number): Float32Array {
  const out = new Float32Array(m * n);
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const s = a[i * k + p]!;
      if (s === 0) continue;
      const base = p * n;
      for (let j = 0; j < n; j++) row[j] += s * b[base + j]!;
    }
    for (let j = 0; j < n; j++) out[i * n + j] = row[j]!;
  }
  return out;
}

/** The transpose of a [rows, cols] tensor (a copy). */
export function transposeMatrix(t: Tensor): Tensor {
  const [rows, cols] = t.shape as [number, number];
  const out = new Float32Array(t.size);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c]!;
  return new Tensor(out, [cols, rows]);
}

function checkMatrix(t: unknown, what: string): asserts t is Tensor {
  if (!(t instanceof Tensor) || t.rank !== 2) {
    throw new InputError(`FactoredMatrix: ${what} must be a 2-D Tensor, got ${t instanceof Tensor ? shapeToString(t.shape) : typeof t}`, "shape_mismatch");
  }
}

/**
 * The matrix A·B kept as its factors A [m, k] and B [k, n] (TransformerLens's FactoredMatrix), for
 * low-rank products such as a head's OV = W_V·W_O ([d_model, d_model] of rank d_head): products
 * with it cost (m + n)·k per vector instead of m·n, and [m, n] is only built by {@link materialize}.
 */
export class FactoredMatrix {
  readonly a: Tensor;
  readonly b: Tensor;

  constructor(a: Tensor, b: Tensor) {
    checkMatrix(a, "A");
    checkMatrix(b, "B");
    if (a.shape[1] !== b.shape[0]) {
      throw new InputError(`FactoredMatrix: A ${shapeToString(a.shape)} and B ${shapeToString(b.shape)} do not chain`, "shape_mismatch");
    }
    this.a = a;
    this.b = b;
  }

  /** [m, n]. */
  get shape(): readonly [number, number] {
    return [this.a.shape[0]!, this.b.shape[1]!];
  }

  /** k, the inner dimension (an upper bound on the rank). */
  get innerDim(): number {
    return this.a.shape[1]!;
  }

  /** (A·B)ᵀ = Bᵀ·Aᵀ, still factored. */
  get T(): FactoredMatrix {
    return new FactoredMatrix(transposeMatrix(this.b), transposeMatrix(this.a));
  }

  /** A·B as a dense [m, n] tensor. */
  materialize(): Tensor {
    const [m, n] = this.shape;
    return new Tensor(matmul(this.a.data, m, this.innerDim, this.b.data, n), [m, n]);
  }

  /** (A·B)·x for x [n, p] (or factored), as the FactoredMatrix (A, B·x) [m, p]: nothing [m, ·] is built. */
  matmul(x: Tensor | FactoredMatrix): FactoredMatrix {
    const [, n] = this.shape;
    const k = this.innerDim;
    if (x instanceof FactoredMatrix) {
      if (x.shape[0] !== n) throw this.#mismatch("matmul", x.shape);
      const bx = matmul(matmul(this.b.data, k, n, x.a.data, x.innerDim), k, x.innerDim, x.b.data, x.shape[1]);
      return new FactoredMatrix(this.a, new Tensor(bx, [k, x.shape[1]]));
    }
    if (!(x instanceof Tensor) || x.rank !== 2 || x.shape[0] !== n) throw this.#mismatch("matmul", x instanceof Tensor ? x.shape : null);
    return new FactoredMatrix(this.a, new Tensor(matmul(this.b.data, k, n, x.data, x.shape[1]!), [k, x.shape[1]!]));
  }

  /** x·(A·B) for x [p, m] (or factored), as the FactoredMatrix (x·A, B) [p, n]. */
  leftMatmul(x: Tensor | FactoredMatrix): FactoredMatrix {
    const [m] = this.shape;
    const k = this.innerDim;
    if (x instanceof FactoredMatrix) {
      if (x.shape[1] !== m) throw this.#mismatch("leftMatmul", x.shape);
      const xa = matmul(x.a.data, x.shape[0], x.innerDim, matmul(x.b.data, x.innerDim, m, this.a.data, k), k);
      return new FactoredMatrix(new Tensor(xa, [x.shape[0], k]), this.b);
    }
    if (!(x instanceof Tensor) || x.rank !== 2 || x.shape[1] !== m) throw this.#mismatch("leftMatmul", x instanceof Tensor ? x.shape : null);
    return new FactoredMatrix(new Tensor(matmul(x.data, x.shape[0]!, m, this.a.data, k), [x.shape[0]!, k]), this.b);
  }

  /** (A·B)·v for a vector v [n] → [m]. */
  matvec(v: Tensor): Tensor {
    const [m, n] = this.shape;
    if (!(v instanceof Tensor) || v.rank !== 1 || v.size !== n) throw this.#mismatch("matvec", v instanceof Tensor ? v.shape : null);
    const bv = matmul(this.b.data, this.innerDim, n, v.data, 1);
    return new Tensor(matmul(this.a.data, m, this.innerDim, bv, 1), [m]);
  }

  /** v·(A·B) for a vector v [m] → [n]. */
  vecmat(v: Tensor): Tensor {
    const [m, n] = this.shape;
    if (!(v instanceof Tensor) || v.rank !== 1 || v.size !== m) throw this.#mismatch("vecmat", v instanceof Tensor ? v.shape : null);
    const va = matmul(v.data, 1, m, this.a.data, this.innerDim);
    return new Tensor(matmul(va, 1, this.innerDim, this.b.data, n), [n]);
  }

  #mismatch(where: string, shape: readonly number[] | null): InputError {
    const got = shape === null ? "not a Tensor" : shapeToString(shape);
    return new InputError(`FactoredMatrix.${where}: ${got} does not fit a ${shapeToString(this.shape)} matrix`, "shape_mismatch");
  }
}
