/**
 * GPT-2's LayerNorm steps (src/tensor/layer-norm.ts: scale, normalize, affine) on the WebAssembly
 * SIMD128 kernel of layer-norm-kernel.ts (module bytes generated at run time; no Node built-ins).
 * On a {@link MemoryWorkspace}'s memory it reads and writes the workspace's views in place and
 * copies other arrays (see kernel-memory.ts).
 */
import { InputError } from "../../errors.ts";
import type { MemoryWorkspace } from "./memory-workspace.ts";
import { generateLayerNormModule, LN_NORMALIZE, LN_SCALE, type LayerNormExports } from "./kernels/layer-norm-kernel.ts";
import { kernelMemory } from "./kernel-memory.ts";
import { isSharedBuffer, overlapsPartially, webAssembly, type WasmMemory } from "./wasm-api.ts";
import { wasmSimdSupported } from "./simd-support.ts";

export interface WasmLayerNorm {
  /** scale[r] = √(var + eps) per row; also (x − mean)/scale[r] into `normalized` when given. */
  scale(x: Float32Array, width: number, eps: number, scale: Float32Array, normalized?: Float32Array): void;
  normalize(x: Float32Array, width: number, scale: Float32Array, out: Float32Array): void;
  affine(x: Float32Array, width: number, weight: Float32Array, bias: Float32Array, out: Float32Array): void;
}

function instantiate(memory: WasmMemory): LayerNormExports | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const bytes = generateLayerNormModule({ sharedMemory: isSharedBuffer(memory.buffer) });
  return new wa.Instance(new wa.Module(bytes), { env: { memory } }).exports as unknown as LayerNormExports;
}

function rowsOf(what: string, x: Float32Array, width: number): number {
  if (!Number.isInteger(width) || width < 1) throw new InputError(`${what}: width=${width} must be a positive integer`, "bad_shape");
  if (x.length % width !== 0) throw new InputError(`${what}: ${x.length} values are not rows of width ${width}`, "bad_shape");
  return x.length / width;
}

function checkLength(what: string, name: string, values: Float32Array, expected: number): void {
  if (values.length !== expected) {
    throw new InputError(`${what}: ${name} has ${values.length} values, expected ${expected}`, "shape_mismatch");
  }
}

/** The LayerNorm kernel on `workspace`'s memory, or on its own memory without one; null without wasm SIMD. */
export function createWasmLayerNorm(workspace?: MemoryWorkspace): WasmLayerNorm | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const { memory, chunked } = kernelMemory(wa, workspace);
  const kernel = instantiate(memory);
  if (kernel === null) return null;

  /** x itself, or a copy when `out` overlaps it partially (rows would be overwritten before read). */
  const source = (x: Float32Array, out: Float32Array | undefined): Float32Array =>
    out !== undefined && overlapsPartially(x, out) ? x.slice() : x;

  return {
    scale(x, width, eps, scale, normalized) {
      const rows = rowsOf("layerNormScale", x, width);
      checkLength("layerNormScale", "scale", scale, rows);
      if (normalized !== undefined) checkLength("layerNormScale", "normalized", normalized, x.length);
      if (rows === 0) return;
      const src = source(x, normalized);
      const outputs: [Float32Array, number][] = [[scale, 1]];
      if (normalized !== undefined) outputs.push([normalized, width]);
      const mode = normalized === undefined ? LN_SCALE : LN_SCALE | LN_NORMALIZE;
      chunked(rows, [[src, width]], outputs, ([xp, sp, dp], n) => kernel.normalizeRows(xp!, dp ?? 0, sp!, n, width, eps, mode));
    },
    normalize(x, width, scale, out) {
      const rows = rowsOf("layerNormNormalize", x, width);
      checkLength("layerNormNormalize", "scale", scale, rows);
      checkLength("layerNormNormalize", "out", out, x.length);
      if (rows === 0) return;
      const src = source(x, out);
      chunked(rows, [[src, width], [scale, 1]], [[out, width]], ([xp, sp, dp], n) => kernel.normalizeRows(xp!, dp!, sp!, n, width, 0, LN_NORMALIZE));
    },
    affine(x, width, weight, bias, out) {
      const rows = rowsOf("layerNormAffine", x, width);
      checkLength("layerNormAffine", "weight", weight, width);
      checkLength("layerNormAffine", "bias", bias, width);
      checkLength("layerNormAffine", "out", out, x.length);
      if (rows === 0) return;
      const src = source(x, out);
      const fill = (head: Float32Array): void => {
        const wide = new Float64Array(head.buffer, head.byteOffset, 2 * width);
        for (let j = 0; j < width; j++) {
          wide[j] = weight[j]!;
          wide[width + j] = bias[j]!;
        }
      };
      chunked(rows, [[src, width]], [[out, width]], ([xp, dp], n, w) => kernel.affineRows(xp!, dp!, n, width, w, w + 8 * width), 4 * width, fill);
    },
  };
}
