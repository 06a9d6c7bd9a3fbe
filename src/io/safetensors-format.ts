import { Gpt2LensError } from "../errors.ts";

export type SafetensorsDType = "F32" | "F16" | "BF16" | "I32" | "I64" | "U8" | "BOOL";

/** `byteOffset` is relative to the start of the data area (right after the header). */
export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  byteOffset: number;
  byteLength: number;
}

export class SafetensorsError extends Gpt2LensError {
  readonly tensor: string | undefined;
  constructor(code: string, message: string, tensor?: string) {
    super(code, message);
    this.tensor = tensor;
  }
}

export const DTYPE_SIZE: Readonly<Record<SafetensorsDType, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  I32: 4,
  I64: 8,
  U8: 1,
  BOOL: 1,
};

/** Rank in the Rust crate's `Dtype` enum; the writer lays tensors out by rank descending. */
export const DTYPE_RANK: Readonly<Record<SafetensorsDType, number>> = {
  BOOL: 0,
  U8: 1,
  F16: 7,
  BF16: 8,
  I32: 9,
  F32: 11,
  I64: 13,
};

/** Valid safetensors dtypes this library does not decode. */
export const UNSUPPORTED_DTYPES: ReadonlySet<string> = new Set([
  "I8",
  "I16",
  "U16",
  "U32",
  "U64",
  "F64",
  "F8_E5M2",
  "F8_E4M3",
  "F8_E8M0",
  "F6_E2M3",
  "F6_E3M2",
  "F4",
  "C64",
]);

export function isSafetensorsDType(value: unknown): value is SafetensorsDType {
  return typeof value === "string" && Object.hasOwn(DTYPE_SIZE, value);
}

export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Copy of `bytes` with every `width`-byte group reversed (little-endian <-> host on big-endian hosts). */
export function swapBytes(bytes: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) {
    for (let j = 0; j < width; j++) out[i + j] = bytes[i + width - 1 - j];
  }
  return out;
}

export function describeTensor(name: string): string {
  return `tensor ${JSON.stringify(name)}`;
}

/** The tensor `name` of a file's header, or a "missing_tensor" error naming it. */
export function lookupTensor(tensors: ReadonlyMap<string, TensorInfo>, name: string): TensorInfo {
  const t = tensors.get(name);
  if (t === undefined) {
    throw new SafetensorsError(
      "missing_tensor",
      `${describeTensor(name)} is not in this safetensors file (it has ${tensors.size} tensors)`,
      name,
    );
  }
  return t;
}
