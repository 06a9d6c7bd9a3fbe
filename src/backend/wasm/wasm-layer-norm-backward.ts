/**
 * A LayerNorm's backward steps on the WebAssembly SIMD128 kernels of layer-norm-backward-kernel.ts.
 * On a {@link MemoryWorkspace}'s memory they work on the workspace's views in place and copy other
 * arrays a chunk of rows at a time (see kernel-memory.ts).
 */
import { InputError } from "../../errors.ts";
import type { BackwardKernels } from "../../tensor/backward-kernels.ts";
import { generateLayerNormBackwardModule, type LayerNormBackwardExports } from "./kernels/layer-norm-backward-kernel.ts";
import type { MemoryWorkspace } from "./memory-workspace.ts";
import { kernelMemory } from "./kernel-memory.ts";
import { isSharedBuffer, webAssembly } from "./wasm-api.ts";
import { wasmSimdSupported } from "./simd-support.ts";

export type LayerNormBackwardKernels = Required<Pick<BackwardKernels, "layerNormAffineBackward" | "layerNormScaleBackward" | "layerNormInputBackward">>;

function rowsOf(where: string, values: Float32Array, width: number): number {
  const rows = values.length / width;
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(rows)) {
    throw new InputError(`${where}: ${values.length} values are not rows of width ${width}`, "shape_mismatch");
  }
  return rows;
}

function checkLength(where: string, what: string, values: Float32Array, expected: number): void {
  if (values.length !== expected) throw new InputError(`${where}: ${what} holds ${values.length} values, expected ${expected}`, "shape_mismatch");
}

/** The kernels on `workspace`'s memory, or on their own memory without one; null without wasm SIMD. */
export function createWasmLayerNormBackward(workspace?: MemoryWorkspace): LayerNormBackwardKernels | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const { memory, chunked } = kernelMemory(wa, workspace);
  const bytes = generateLayerNormBackwardModule({ sharedMemory: isSharedBuffer(memory.buffer) });
  const kernel = new wa.Instance(new wa.Module(bytes), { env: { memory } }).exports as unknown as LayerNormBackwardExports;
  return {
    layerNormAffineBackward(dOut, width, weight, out) {
      const rows = rowsOf("layerNormAffineBackward", dOut, width);
      checkLength("layerNormAffineBackward", "weight", weight, width);
      checkLength("layerNormAffineBackward", "out", out, dOut.length);
      chunked(rows, [[dOut, width]], [[out, width]], ([src, dst], n, head) => kernel.affineBackward(src!, dst!, n, width, head), width, (head) => head.set(weight));
    },
    layerNormScaleBackward(dNormalized, normalized, scale, width, out) {
      const rows = rowsOf("layerNormScaleBackward", normalized, width);
      checkLength("layerNormScaleBackward", "dNormalized", dNormalized, normalized.length);
      checkLength("layerNormScaleBackward", "scale", scale, rows);
      checkLength("layerNormScaleBackward", "out", out, rows);
      chunked(rows, [[dNormalized, width], [normalized, width], [scale, 1]], [[out, 1]], ([dn, n, s, dst], k) => kernel.scaleBackward(dn!, n!, s!, dst!, k, width));
    },
    layerNormInputBackward(dNormalized, dScale, normalized, scale, width, out) {
      const rows = rowsOf("layerNormInputBackward", normalized, width);
      checkLength("layerNormInputBackward", "dNormalized", dNormalized, normalized.length);
      checkLength("layerNormInputBackward", "dScale", dScale, rows);
      checkLength("layerNormInputBackward", "scale", scale, rows);
      checkLength("layerNormInputBackward", "out", out, normalized.length);
      chunked(rows, [[dNormalized, width], [dScale, 1], [normalized, width], [scale, 1]], [[out, width]],
        ([dn, ds, n, s, dst], k) => kernel.inputBackward(dn!, ds!, n!, s!, dst!, k, width));
    },
  };
}
