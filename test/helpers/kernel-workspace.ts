import { expect } from "vitest";
import { type MemoryWorkspace, sharedMemoryWorkspace } from "../../src/backend/wasm/memory-workspace.ts";
import { createSharedMemory } from "../../src/backend/wasm/wasm-api.ts";
import { WasmGemm } from "../../src/backend/wasm/gemm/wasm-gemm.ts";

/** A workspace over a GEMM allocator on a fresh shared memory, as the wasm backend makes one. */
export function gemmWorkspace(): MemoryWorkspace {
  const memory = createSharedMemory(1, 4096)!;
  const gemm = WasmGemm.create({ memory })!;
  return sharedMemoryWorkspace(memory, (floats) => {
    const buffer = gemm.alloc(floats);
    return { view: buffer.view(), buffer };
  }, (buffer) => gemm.free(buffer));
}

/** A seeded generator of values in [−1, 1). */
export function uniformFrom(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    return ((s >>> 8) / (1 << 24)) * 2 - 1;
  };
}

/** |got − want| ≤ 1e-5·scale per entry (scale: the entry's sum of the terms' magnitudes). */
export function expectWithinScale(got: Float32Array, want: Float32Array, scale: Float32Array, what: string): void {
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= 1e-5 * (scale[i]! + 1e-30))) expect.fail(`${what}[${i}] = ${got[i]}, reference ${want[i]} (scale ${scale[i]})`);
  }
}
