import { InputError } from "../errors.ts";
import type { BackendWorkspace } from "./backend.ts";
import type { AffineRowsExports } from "./wasm/kernels/affine-rows-kernel.ts";
import { instantiateAffineRowsKernel } from "./wasm/wasm-affine-rows.ts";
import type { WasmMemory } from "./wasm/wasm-api.ts";

const kernels = new WeakMap<WasmMemory, AffineRowsExports | null>();

function kernelFor(memory: WasmMemory): AffineRowsExports | null {
  let kernel = kernels.get(memory);
  if (kernel === undefined) {
    kernel = instantiateAffineRowsKernel(memory);
    kernels.set(memory, kernel);
  }
  return kernel;
}

/**
 * x[r, j] ← (base[r, j] + x[r, j])·rowScale[r] + bias[j] for x, base [rows, cols] (rows =
 * rowScale.length), in float32: each step is rounded to float32 and rowScale to float32 first.
 * When `x`, `base` and `bias` are buffers the workspace holds in its memory this runs on the
 * WebAssembly SIMD kernel in place, else in TypeScript; the bits are the same.
 */
export function affineRowsInPlace(
  x: Float32Array, base: Float32Array, rowScale: ArrayLike<number>, bias: Float32Array, workspace?: BackendWorkspace,
): void {
  const rows = rowScale.length;
  const cols = bias.length;
  if (x.length !== rows * cols || base.length !== x.length) {
    throw new InputError(
      `affineRowsInPlace: x has ${x.length} values and base ${base.length}, expected rows·cols = ${rows}·${cols}`,
      "shape_mismatch",
    );
  }
  const memory = workspace?.memory;
  const inPlace = memory !== undefined && [x, base, bias].every((v) => workspace?.holds?.(v) ?? false);
  const kernel = inPlace ? kernelFor(memory) : null;
  for (let r = 0; r < rows; r++) {
    const scale = Math.fround(rowScale[r]!);
    const offset = r * cols;
    if (kernel !== null) {
      kernel.affineRow(x.byteOffset + 4 * offset, base.byteOffset + 4 * offset, bias.byteOffset, cols, scale);
      continue;
    }
    for (let j = 0; j < cols; j++) x[offset + j] = Math.fround(Math.fround(base[offset + j]! + x[offset + j]!) * scale) + bias[j]!;
  }
}
