/** B matrices packed into the GEMM kernel's column panels, in a WasmHeap's memory. */
import { packedLength } from "../kernels/gemm-kernel.ts";
import { type Block, checkDim, checkLength, type WasmF32Buffer, type WasmHeap } from "./heap.ts";

/** B[k,n] packed into column panels inside wasm memory (see gemm-kernel.ts for the layout). */
export interface PackedMatrix {
  readonly k: number;
  readonly n: number;
  /** Panel width (floats). */
  readonly panelWidth: number;
  /** The packed data; release it with {@link WasmGemm.free}. */
  readonly buffer: WasmF32Buffer;
}

export class Packed implements PackedMatrix {
  constructor(
    readonly k: number,
    readonly n: number,
    readonly panelWidth: number,
    readonly buffer: Block,
  ) {}
}

/** Packs B[k,n] (row-major) into column panels of width NR in `heap`. */
export function packRowMajor(heap: WasmHeap, NR: number, b: Float32Array, k: number, n: number): Packed {
  checkDim("WasmGemm.pack", "k", k);
  checkDim("WasmGemm.pack", "n", n);
  checkLength("WasmGemm.pack", "b", b, k * n, `k·n = ${k}·${n}`);
  const source = heap.survivesGrowth(b);
  const buf = heap.alloc(packedLength(k, n, NR));
  const dst = buf.view();
  b = source();
  const panels = Math.ceil(n / NR);
  for (let p = 0; p < panels; p++) {
    const j0 = p * NR;
    const nr = Math.min(NR, n - j0);
    let d = p * k * NR;
    for (let kk = 0; kk < k; kk++, d += NR) {
      const s = kk * n + j0;
      for (let j = 0; j < nr; j++) dst[d + j] = b[s + j];
      for (let j = nr; j < NR; j++) dst[d + j] = 0;
    }
  }
  return new Packed(k, n, NR, buf);
}

/**
 * Packs B given as its transpose Bᵀ[n,k] (row-major), e.g. the tied embedding W_E[vocab, d_model]
 * used as the unembedding W_U = W_Eᵀ (k = d_model, n = vocab).
 */
export function packTransposed(heap: WasmHeap, NR: number, bt: Float32Array, n: number, k: number): Packed {
  checkDim("WasmGemm.packTransposed", "n", n);
  checkDim("WasmGemm.packTransposed", "k", k);
  checkLength("WasmGemm.packTransposed", "bt", bt, n * k, `n·k = ${n}·${k}`);
  const source = heap.survivesGrowth(bt);
  const buf = heap.alloc(packedLength(k, n, NR));
  const dst = buf.view();
  bt = source();
  const panels = Math.ceil(n / NR);
  for (let p = 0; p < panels; p++) {
    const base = p * k * NR;
    for (let jj = 0; jj < NR; jj++) {
      const j = p * NR + jj;
      let d = base + jj;
      if (j < n) {
        let s = j * k;
        for (let kk = 0; kk < k; kk++, d += NR) dst[d] = bt[s++];
      } else {
        for (let kk = 0; kk < k; kk++, d += NR) dst[d] = 0;
      }
    }
  }
  return new Packed(k, n, NR, buf);
}
