import type { Float32TensorSource } from "../io/safetensors.ts";
import { ModelLoadError } from "./config.ts";

/** Index of the first NaN or ±Infinity in `values`, or -1. */
function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // v - v is 0 for every finite float and NaN for NaN and ±Infinity: one compare per element.
    if (v - v !== 0) return i;
  }
  return -1;
}

function multiIndex(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const size = shape[axis]!;
    index[axis] = flat % size;
    flat = Math.floor(flat / size);
  }
  return index;
}

function checked(source: Float32TensorSource, name: string, values: Float32Array): Float32Array {
  const i = firstNonFinite(values);
  if (i < 0) return values;
  const shape = source.info(name).shape;
  throw new ModelLoadError(
    "non_finite_weight",
    `weights: tensor "${name}" holds ${values[i]} at [${multiIndex(i, shape).join(", ")}]; a checkpoint must hold finite numbers only (the file is damaged, or training diverged)`,
  );
}

/**
 * The same tensors, each checked for NaN and ±Infinity as it is read (right after decoding, in the
 * pass that hands it to the backend for packing, so the weights are not read twice).
 */
export function finiteCheckedSource(source: Float32TensorSource): Float32TensorSource {
  const wrapped: Float32TensorSource = {
    get names() {
      return source.names;
    },
    has: (name) => source.has(name),
    info: (name) => source.info(name),
    getFloat32: (name) => checked(source, name, source.getFloat32(name)),
  };
  const transient = source.getFloat32Transient?.bind(source);
  if (transient) wrapped.getFloat32Transient = (name) => checked(source, name, transient(name));
  return wrapped;
}
