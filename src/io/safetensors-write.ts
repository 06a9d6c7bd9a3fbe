import { float32ToBfloat16Array, float32ToHalfArray } from "./float16.ts";
import {
  DTYPE_RANK,
  HOST_IS_LITTLE_ENDIAN,
  SafetensorsError,
  describeTensor,
  isSafetensorsDType,
  swapBytes,
  type SafetensorsDType,
} from "./safetensors-format.ts";

/**
 * F32 <- Float32Array; F16/BF16 <- Float32Array (rounded to nearest even) or Uint16Array (raw bits);
 * I32 <- Int32Array; I64 <- BigInt64Array or Int32Array (widened); U8/BOOL <- Uint8Array.
 */
export interface TensorToWrite {
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;
}

interface PreparedTensor {
  name: string;
  nameBytes: Uint8Array;
  dtype: SafetensorsDType;
  shape: readonly number[];
  bytes: Uint8Array;
}

const encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Byte-for-byte the layout of the reference Rust writer (used by Python's `save_file`): compact header
 * JSON with `__metadata__` first (present whenever `metadata` is given), tensors ordered by dtype
 * (descending, in the crate's Dtype enum order) then by UTF-8 name bytes, header padded with spaces to a
 * multiple of 8. Metadata keys keep their insertion order (the Rust crate's order is a random HashMap's).
 */
export function serializeSafetensors(
  tensors: Record<string, TensorToWrite> | ReadonlyMap<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Uint8Array {
  const prepared = tensorEntries(tensors).map(([name, tensor]) => prepareTensor(name, tensor));
  prepared.sort((a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareBytes(a.nameBytes, b.nameBytes));

  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${metadataJson(metadata)}`);
  let offset = 0;
  for (const t of prepared) {
    const end = offset + t.bytes.length;
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(",")}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = encoder.encode(`{${parts.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let position = 8 + headerLength;
  for (const t of prepared) {
    out.set(t.bytes, position);
    position += t.bytes.length;
  }
  return out;
}

function tensorEntries(
  tensors: Record<string, TensorToWrite> | ReadonlyMap<string, TensorToWrite>,
): Array<[string, TensorToWrite]> {
  if (tensors instanceof Map) return [...(tensors as ReadonlyMap<string, TensorToWrite>)];
  if (typeof tensors !== "object" || tensors === null) {
    throw new SafetensorsError("invalid_argument", "serializeSafetensors expects a record or Map of tensors");
  }
  return Object.entries(tensors as Record<string, TensorToWrite>);
}

function metadataJson(metadata: Record<string, string>): string {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new SafetensorsError("invalid_metadata", "metadata must be an object of string values");
  }
  const parts: string[] = [];
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") {
      throw new SafetensorsError(
        "invalid_metadata",
        `metadata value for key ${JSON.stringify(key)} must be a string, got ${typeof value}`,
      );
    }
    checkWellFormed(key, `metadata key ${JSON.stringify(key)}`);
    checkWellFormed(value, `metadata value for key ${JSON.stringify(key)}`);
    parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
  }
  return `{${parts.join(",")}}`;
}

function checkWellFormed(text: string, what: string, tensor?: string): void {
  if (LONE_SURROGATE.test(text)) {
    throw new SafetensorsError("invalid_string", `${what} contains a lone UTF-16 surrogate, which UTF-8 cannot encode`, tensor);
  }
}

function prepareTensor(name: string, tensor: TensorToWrite): PreparedTensor {
  const what = describeTensor(name);
  if (name === "__metadata__") {
    throw new SafetensorsError("reserved_name", `${what}: the name "__metadata__" is reserved for file metadata`, name);
  }
  checkWellFormed(name, `${what}: the name`, name);
  if (typeof tensor !== "object" || tensor === null) {
    throw new SafetensorsError("invalid_tensor", `${what}: expected { dtype, shape, data }`, name);
  }
  const { dtype, shape, data } = tensor;
  if (!isSafetensorsDType(dtype)) {
    throw new SafetensorsError("invalid_dtype", `${what}: unknown dtype ${JSON.stringify(dtype)}`, name);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError("invalid_shape", `${what}: shape must be an array of non-negative integers`, name);
  }
  const count = shape.reduce((a: number, b: number) => a * b, 1);
  if (!Number.isSafeInteger(count)) {
    throw new SafetensorsError("shape_overflow", `${what}: element count of shape [${shape.join(",")}] overflows`, name);
  }
  const bytes = encodeData(name, dtype, data);
  if (data.length !== count) {
    throw new SafetensorsError(
      "data_length_mismatch",
      `${what}: shape [${shape.join(",")}] needs ${count} elements but data has ${data.length}`,
      name,
    );
  }
  return { name, nameBytes: encoder.encode(name), dtype, shape: [...shape], bytes };
}

function encodeData(name: string, dtype: SafetensorsDType, data: TensorToWrite["data"]): Uint8Array {
  switch (dtype) {
    case "F32":
      if (data instanceof Float32Array) return littleEndianBytes(data, 4);
      break;
    case "F16":
    case "BF16":
      if (data instanceof Uint16Array) return littleEndianBytes(data, 2);
      if (data instanceof Float32Array) {
        return littleEndianBytes(dtype === "F16" ? float32ToHalfArray(data) : float32ToBfloat16Array(data), 2);
      }
      break;
    case "I32":
      if (data instanceof Int32Array) return littleEndianBytes(data, 4);
      break;
    case "I64":
      if (data instanceof BigInt64Array) return littleEndianBytes(data, 8);
      if (data instanceof Int32Array) return widenInt32(data);
      break;
    case "U8":
      if (data instanceof Uint8Array) return new Uint8Array(data);
      break;
    case "BOOL":
      if (data instanceof Uint8Array) return checkedBool(name, data);
      break;
  }
  throw new SafetensorsError(
    "wrong_data_type",
    `${describeTensor(name)}: ${dtype} cannot be written from a ${data?.constructor?.name ?? typeof data}`,
    name,
  );
}

function littleEndianBytes(data: Float32Array | Int32Array | BigInt64Array | Uint16Array, width: number): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return HOST_IS_LITTLE_ENDIAN ? bytes : swapBytes(bytes, width);
}

function widenInt32(data: Int32Array): Uint8Array {
  const out = new Uint8Array(data.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    view.setInt32(8 * i, data[i], true);
    view.setInt32(8 * i + 4, data[i] >> 31, true);
  }
  return out;
}

function checkedBool(name: string, data: Uint8Array): Uint8Array {
  const index = data.findIndex((b) => b > 1);
  if (index >= 0) {
    throw new SafetensorsError(
      "invalid_bool",
      `${describeTensor(name)}: BOOL element ${index} is ${data[index]}; booleans must be 0 or 1`,
      name,
    );
  }
  return new Uint8Array(data);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}
