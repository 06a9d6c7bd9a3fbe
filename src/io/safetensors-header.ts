import { JsonNumber, StrictJsonError, parseStrictJson, type JsonValue } from "./json-strict.ts";
import {
  DTYPE_SIZE,
  SafetensorsError,
  UNSUPPORTED_DTYPES,
  describeTensor,
  isSafetensorsDType,
  type TensorInfo,
} from "./safetensors-format.ts";

/** The reference Rust crate's MAX_HEADER_SIZE. */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

/**
 * What a header may declare. GPT-2 XL has 582 tensors with keys under 40 characters, and the large
 * checkpoints on the hub hold at most a few thousand tensors per file; these limits are 100× that
 * and more, yet keep a 100 MB header from becoming gigabytes of parsed objects (1.7 M empty tensors
 * took 2.5 GB and 10 s): 65,536 entries of at most 16 JSON values each (a tensor entry has about 10)
 * parse in well under a second into a few hundred MB at most.
 */
export const HEADER_LIMITS = Object.freeze({
  /** Tensors in one file. */
  maxTensors: 65_536,
  /** Characters of a tensor name (or metadata key). */
  maxKeyLength: 1_024,
  /** JSON values in the whole header (tensor entries, shapes, offsets, metadata). */
  maxValues: 16 * 65_536,
});

export interface DecodedHeader {
  /** Byte length of the JSON header (without the 8-byte length prefix). */
  headerLength: number;
  metadata: Readonly<Record<string, string>>;
  /** In data-area order. */
  tensors: TensorInfo[];
}

const TENSOR_FIELDS = ["dtype", "shape", "data_offsets"] as const;

/**
 * Validates a safetensors header with the rules of the reference Rust crate (`SafeTensors::read_metadata`
 * and `Metadata::validate`): tensors sorted by offset must tile the data area exactly from byte 0 to the
 * end of the file, with no overlap, hole or trailing byte, and each byte range must match shape × dtype.
 * It is stricter in a few places: duplicate keys, unknown entry fields and non-integer numbers are errors.
 */
export function decodeHeader(
  bytes: Uint8Array,
  maxHeaderBytes = DEFAULT_MAX_HEADER_BYTES,
  fileSize = bytes.length,
): DecodedHeader {
  const headerLength = decodeHeaderLength(bytes, maxHeaderBytes, fileSize);
  if (bytes.length < 8 + headerLength) {
    throw new SafetensorsError(
      "invalid_argument",
      `the header needs ${8 + headerLength} bytes from the start of the file, but only ${bytes.length} were given`,
    );
  }
  const root = parseHeaderJson(bytes.subarray(8, 8 + headerLength));
  const dataLength = fileSize - 8 - headerLength;
  let metadata: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);
  const tensors: TensorInfo[] = [];
  for (const [key, value] of root) {
    if (key === "__metadata__") metadata = decodeMetadata(value);
    else tensors.push(decodeTensorEntry(key, value, dataLength));
  }
  if (tensors.length > HEADER_LIMITS.maxTensors) {
    throw new SafetensorsError("too_many_tensors", `header declares ${tensors.length} tensors, more than the limit of ${HEADER_LIMITS.maxTensors} tensors`);
  }
  checkLayout(tensors, dataLength);
  return { headerLength, metadata, tensors };
}

/**
 * The JSON header's byte length from the first bytes of a file of `fileSize` bytes (`bytes` holds at
 * least min(8, fileSize) of them), checked against the limit and the file size.
 */
export function decodeHeaderLength(
  bytes: Uint8Array,
  maxHeaderBytes = DEFAULT_MAX_HEADER_BYTES,
  fileSize = bytes.length,
): number {
  if (!Number.isSafeInteger(maxHeaderBytes) || maxHeaderBytes < 0) {
    throw new SafetensorsError("invalid_option", `maxHeaderBytes must be a non-negative integer, got ${maxHeaderBytes}`);
  }
  if (!Number.isSafeInteger(fileSize) || fileSize < bytes.length) {
    throw new SafetensorsError("invalid_argument", `file size ${fileSize} is smaller than the ${bytes.length} bytes given`);
  }
  if (fileSize < 8) {
    throw new SafetensorsError(
      "header_too_small",
      `file is ${fileSize} bytes long; a safetensors file starts with an 8-byte header length`,
    );
  }
  if (bytes.length < 8) {
    throw new SafetensorsError("invalid_argument", `the first 8 bytes of the file are needed, but only ${bytes.length} were given`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  if (high >= 2 ** 21) {
    throw new SafetensorsError("header_too_large", `header length ${view.getBigUint64(0, true)} exceeds 2^53 bytes`);
  }
  const length = high * 2 ** 32 + low;
  if (length > maxHeaderBytes) {
    throw new SafetensorsError("header_too_large", `header length ${length} exceeds the limit of ${maxHeaderBytes} bytes`);
  }
  if (8 + length > fileSize) {
    throw new SafetensorsError(
      "header_length_out_of_range",
      `header length ${length} runs past the end of the file (${fileSize} bytes, so at most ${fileSize - 8})`,
    );
  }
  return length;
}

function parseHeaderJson(headerBytes: Uint8Array): Map<string, JsonValue> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError("invalid_header_utf8", "header is not valid UTF-8");
  }
  if (!text.startsWith("{")) {
    throw new SafetensorsError("invalid_header_start", "header must be a JSON object starting with '{'");
  }
  let root: JsonValue;
  try {
    root = parseStrictJson(text, {
      maxRootMembers: HEADER_LIMITS.maxTensors + 1, // + "__metadata__"
      maxKeyLength: HEADER_LIMITS.maxKeyLength,
      maxValues: HEADER_LIMITS.maxValues,
    });
  } catch (error) {
    if (!(error instanceof StrictJsonError)) throw error;
    throw headerJsonError(error);
  }
  if (!(root instanceof Map)) throw new SafetensorsError("invalid_header_start", "header JSON must be an object");
  return root;
}

function headerJsonError(error: StrictJsonError): SafetensorsError {
  switch (error.kind) {
    case "duplicate_key":
      return new SafetensorsError("duplicate_key", `header is not valid JSON: ${error.message}`);
    case "too_many_root_members":
      return new SafetensorsError("too_many_tensors", `header declares more than the limit of ${HEADER_LIMITS.maxTensors} tensors`);
    case "key_too_long":
      return new SafetensorsError("key_too_long", `header key too long (limit ${HEADER_LIMITS.maxKeyLength} characters): ${error.message}`);
    case "too_many_values":
      return new SafetensorsError(
        "header_too_complex",
        `header holds more than the limit of ${HEADER_LIMITS.maxValues} JSON values (tensor entries, shapes, offsets, metadata)`,
      );
    default:
      return new SafetensorsError("invalid_header_json", `header is not valid JSON: ${error.message}`);
  }
}

function decodeMetadata(value: JsonValue): Readonly<Record<string, string>> {
  if (!(value instanceof Map)) {
    throw new SafetensorsError("invalid_metadata", `"__metadata__" must be an object of strings, got ${jsonKind(value)}`);
  }
  const metadata = Object.create(null) as Record<string, string>;
  for (const [key, entry] of value) {
    if (typeof entry !== "string") {
      throw new SafetensorsError(
        "invalid_metadata",
        `"__metadata__" value for key ${JSON.stringify(key)} must be a string, got ${jsonKind(entry)}`,
      );
    }
    metadata[key] = entry;
  }
  return Object.freeze(metadata);
}

function decodeTensorEntry(name: string, value: JsonValue, dataLength: number): TensorInfo {
  const what = describeTensor(name);
  if (!(value instanceof Map)) {
    throw new SafetensorsError("invalid_tensor_entry", `${what}: entry must be an object, got ${jsonKind(value)}`, name);
  }
  for (const key of value.keys()) {
    if (!(TENSOR_FIELDS as readonly string[]).includes(key)) {
      throw new SafetensorsError("invalid_tensor_entry", `${what}: unknown field ${JSON.stringify(key)}`, name);
    }
  }
  for (const field of TENSOR_FIELDS) {
    if (!value.has(field)) throw new SafetensorsError("invalid_tensor_entry", `${what}: missing field "${field}"`, name);
  }
  const dtype = value.get("dtype");
  if (!isSafetensorsDType(dtype)) {
    if (typeof dtype === "string" && UNSUPPORTED_DTYPES.has(dtype)) {
      throw new SafetensorsError("unsupported_dtype", `${what}: dtype ${dtype} is not supported by this reader`, name);
    }
    throw new SafetensorsError("invalid_dtype", `${what}: unknown dtype ${describeJson(dtype)}`, name);
  }
  const shape = decodeIndexList(value.get("shape"));
  if (shape === undefined) {
    throw new SafetensorsError(
      "invalid_shape",
      `${what}: shape must be an array of non-negative integers, got ${describeJson(value.get("shape"))}`,
      name,
    );
  }
  const offsets = decodeIndexList(value.get("data_offsets"));
  if (offsets === undefined || offsets.length !== 2 || offsets[0] > offsets[1]) {
    throw new SafetensorsError(
      "invalid_offsets",
      `${what}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${describeJson(value.get("data_offsets"))}`,
      name,
    );
  }
  const [begin, end] = offsets;
  const needed = byteLengthOf(name, dtype, shape);
  if (end - begin !== needed) {
    throw new SafetensorsError(
      "byte_length_mismatch",
      `${what}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape [${shape.join(",")}] of ${dtype} needs ${needed}`,
      name,
    );
  }
  if (end > dataLength) {
    throw new SafetensorsError(
      "offset_out_of_range",
      `${what}: data_offsets [${begin}, ${end}] end past the data area, which is ${dataLength} bytes`,
      name,
    );
  }
  return { name, dtype, shape, byteOffset: begin, byteLength: end - begin };
}

function decodeIndexList(value: JsonValue | undefined): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: number[] = [];
  for (const item of value) {
    if (!(item instanceof JsonNumber) || !item.isIntegerLiteral || item.text.startsWith("-")) return undefined;
    const n = item.value;
    if (!Number.isSafeInteger(n)) return undefined;
    out.push(n);
  }
  return out;
}

function byteLengthOf(name: string, dtype: keyof typeof DTYPE_SIZE, shape: number[]): number {
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    if (count > Number.MAX_SAFE_INTEGER) {
      throw new SafetensorsError(
        "shape_overflow",
        `${describeTensor(name)}: element count of shape [${shape.join(",")}] overflows`,
        name,
      );
    }
  }
  const bytes = count * DTYPE_SIZE[dtype];
  if (bytes > Number.MAX_SAFE_INTEGER) {
    throw new SafetensorsError("shape_overflow", `${describeTensor(name)}: byte length of shape [${shape.join(",")}] overflows`, name);
  }
  return bytes;
}

function checkLayout(tensors: TensorInfo[], dataLength: number): void {
  tensors.sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
  let expected = 0;
  let previous: TensorInfo | undefined;
  for (const t of tensors) {
    const range = `[${t.byteOffset}, ${t.byteOffset + t.byteLength}]`;
    if (t.byteOffset < expected && previous !== undefined) {
      throw new SafetensorsError(
        "overlapping_tensors",
        `${describeTensor(t.name)}: data_offsets ${range} overlap ${describeTensor(previous.name)}, which ends at ${expected}`,
        t.name,
      );
    }
    if (t.byteOffset > expected) {
      const after = previous === undefined ? "the data area starts at 0" : `${describeTensor(previous.name)} ends at ${expected}`;
      throw new SafetensorsError(
        "data_gap",
        `${describeTensor(t.name)}: data_offsets ${range} leave a hole: ${after}`,
        t.name,
      );
    }
    expected = t.byteOffset + t.byteLength;
    previous = t;
  }
  if (expected !== dataLength) {
    throw new SafetensorsError(
      "trailing_bytes",
      `the tensors cover ${expected} bytes of the data area but it is ${dataLength} bytes long (${dataLength - expected} trailing bytes)`,
    );
  }
}

function jsonKind(value: JsonValue | undefined): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (value instanceof Map) return "an object";
  if (Array.isArray(value)) return "an array";
  if (value instanceof JsonNumber) return `the number ${value.text}`;
  return `a ${typeof value}`;
}

function describeJson(value: JsonValue | undefined): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value) && value.every((v) => v instanceof JsonNumber) && value.length <= 16) {
    return `[${value.map((v) => (v as JsonNumber).text).join(", ")}]`;
  }
  return jsonKind(value);
}
