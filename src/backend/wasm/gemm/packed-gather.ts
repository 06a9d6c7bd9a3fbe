import type { PackedMatrix } from "./packing.ts";

/**
 * out[i·k … (i+1)·k) = column cols[i] of B[k, n], read from B packed by WasmGemm.pack or
 * packTransposed (column panels of width NR = panelWidth: element (kk, j) is at float
 * (⌊j/NR⌋·k + kk)·NR + j mod NR). For the tied GPT-2 unembedding W_U = W_Eᵀ this gathers
 * token-embedding rows without a plain copy of W_E. Columns must be integers in [0, n).
 */
export function gatherPackedColumns(packed: PackedMatrix, cols: ArrayLike<number>, out: Float32Array): void {
  const { k, panelWidth: nr } = packed;
  const data = packed.buffer.view();
  for (let i = 0; i < cols.length; i++) {
    const j = cols[i]!;
    let s = Math.floor(j / nr) * k * nr + (j % nr);
    const o = i * k;
    for (let kk = 0; kk < k; kk++, s += nr) out[o + kk] = data[s]!;
  }
}
