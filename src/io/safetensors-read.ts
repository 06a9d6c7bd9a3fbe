import { bfloat16ToFloat32Array, halfToFloat32Array } from "./float16.ts";
import {
  HOST_IS_LITTLE_ENDIAN,
  lookupTensor,
  SafetensorsError,
  describeTensor,
  swapBytes,
  type TensorInfo,
} from "./safetensors-format.ts";
import { decodeHeader, decodeHeaderLength } from "./safetensors-header.ts";

/**
 * Float tensors by name: what a model loader needs. Both an in-memory {@link SafetensorsFile} and a
 * file read on demand (io/node-safetensors-source.ts) provide it.
 */
export interface Float32TensorSource {
  /** Tensor names in data-area (offset) order. */
  readonly names: readonly string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** F32, or F16/BF16 widened exactly. */
  getFloat32(name: string): Float32Array;
  /**
   * Optional: like getFloat32, but the result may live in a buffer that the next call reuses. For
   * a caller that copies the values right away.
   */
  getFloat32Transient?(name: string): Float32Array;
}

export interface SafetensorsFile extends Float32TensorSource {
  readonly metadata: Readonly<Record<string, string>>;
  /** F32 (a zero-copy view when 4-byte aligned), or F16/BF16 widened exactly. */
  getFloat32(name: string): Float32Array;
  /** I32 (a view when aligned), I64 narrowed with a range check, U8/BOOL widened. */
  getInt32(name: string): Int32Array;
  /** The tensor's little-endian bytes, as a view into the parsed buffer. */
  getRaw(name: string): Uint8Array;
}

export interface ParseSafetensorsOptions {
  /** Largest accepted JSON header, in bytes. Default 100 MB, like the reference implementation. */
  maxHeaderBytes?: number;
}

export function parseSafetensors(bytes: Uint8Array, options: ParseSafetensorsOptions = {}): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) {
    throw new SafetensorsError("invalid_argument", "parseSafetensors expects a Uint8Array");
  }
  const plain = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = decodeHeader(plain, options.maxHeaderBytes);
  return new ParsedSafetensors(plain.subarray(8 + header.headerLength), header.metadata, header.tensors);
}

export interface SafetensorsHeader {
  /** Where the data area starts: 8 + the JSON header's length. */
  readonly dataStart: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** In data-area order; each `byteOffset` is relative to `dataStart`. */
  readonly tensors: readonly TensorInfo[];
}

/**
 * How many bytes from the start of a `fileSize`-byte safetensors file {@link parseSafetensorsHeader}
 * needs (8 + the header length), given its first min(8, fileSize) bytes. Throws the same
 * SafetensorsErrors as parseSafetensors for a too-short file or a bad header length.
 */
export function safetensorsHeaderSize(first: Uint8Array, fileSize: number, options: ParseSafetensorsOptions = {}): number {
  return 8 + decodeHeaderLength(first, options.maxHeaderBytes, fileSize);
}

/**
 * Validates a safetensors header exactly as {@link parseSafetensors} does for a whole file of
 * `fileSize` bytes, from only its first bytes (at least {@link safetensorsHeaderSize} of them): the
 * data area need not be in memory.
 */
export function parseSafetensorsHeader(
  bytes: Uint8Array,
  fileSize: number,
  options: ParseSafetensorsOptions = {},
): SafetensorsHeader {
  if (!(bytes instanceof Uint8Array)) {
    throw new SafetensorsError("invalid_argument", "parseSafetensorsHeader expects a Uint8Array");
  }
  const plain = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = decodeHeader(plain, options.maxHeaderBytes, fileSize);
  return { dataStart: 8 + header.headerLength, metadata: header.metadata, tensors: header.tensors };
}

/**
 * A float tensor's values from its little-endian bytes `raw`: F32 as a view when `raw` is 4-byte
 * aligned (and the host little-endian), else a copy; F16/BF16 widened exactly.
 */
export function decodeFloat32Tensor(t: TensorInfo, raw: Uint8Array): Float32Array {
  switch (t.dtype) {
    case "F32":
      return new Float32Array(...alignedElements(raw, 4));
    case "F16":
      return halfToFloat32Array(new Uint16Array(...alignedElements(raw, 2)));
    case "BF16":
      return bfloat16ToFloat32Array(new Uint16Array(...alignedElements(raw, 2)));
    default:
      throw wrongDtype(t, "getFloat32", "F32, F16 or BF16", "getInt32");
  }
}

/** Typed-array constructor arguments over the elements in host byte order: a view when aligned, else a copy. */
function alignedElements(raw: Uint8Array, width: number): [buffer: ArrayBufferLike, byteOffset: number, length: number] {
  const length = raw.byteLength / width;
  if (HOST_IS_LITTLE_ENDIAN && raw.byteOffset % width === 0) return [raw.buffer, raw.byteOffset, length];
  const copy = HOST_IS_LITTLE_ENDIAN ? new Uint8Array(raw) : swapBytes(raw, width);
  return [copy.buffer, 0, length];
}

class ParsedSafetensors implements SafetensorsFile {
  readonly metadata: Readonly<Record<string, string>>;
  readonly names: readonly string[];
  readonly #data: Uint8Array;
  readonly #tensors: Map<string, TensorInfo>;

  constructor(data: Uint8Array, metadata: Readonly<Record<string, string>>, tensors: TensorInfo[]) {
    this.#data = data;
    this.metadata = metadata;
    this.names = Object.freeze(tensors.map((t) => t.name));
    this.#tensors = new Map(tensors.map((t) => [t.name, t]));
  }

  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.#lookup(name);
    return { ...t, shape: [...t.shape] };
  }

  getRaw(name: string): Uint8Array {
    const t = this.#lookup(name);
    return this.#data.subarray(t.byteOffset, t.byteOffset + t.byteLength);
  }

  getFloat32(name: string): Float32Array {
    const t = this.#lookup(name);
    return decodeFloat32Tensor(t, this.#data.subarray(t.byteOffset, t.byteOffset + t.byteLength));
  }

  getInt32(name: string): Int32Array {
    const t = this.#lookup(name);
    switch (t.dtype) {
      case "I32":
        return new Int32Array(...alignedElements(this.getRaw(name), 4));
      case "I64":
        return narrowInt64(t, this.getRaw(name));
      case "U8":
        return Int32Array.from(this.getRaw(name));
      case "BOOL":
        return Int32Array.from(this.getRaw(name), (b) => (b === 0 ? 0 : 1));
      default:
        throw wrongDtype(t, "getInt32", "I32, I64, U8 or BOOL", "getFloat32");
    }
  }

  #lookup(name: string): TensorInfo {
    return lookupTensor(this.#tensors, name);
  }
}

function narrowInt64(t: TensorInfo, raw: Uint8Array): Int32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Int32Array(raw.byteLength / 8);
  for (let i = 0; i < out.length; i++) {
    const low = view.getInt32(8 * i, true);
    const high = view.getInt32(8 * i + 4, true);
    if (high !== low >> 31) {
      throw new SafetensorsError(
        "int_out_of_range",
        `${describeTensor(t.name)}: I64 element ${i} is ${view.getBigInt64(8 * i, true)}, outside the int32 range`,
        t.name,
      );
    }
    out[i] = low;
  }
  return out;
}

function wrongDtype(t: TensorInfo, method: string, accepted: string, other: string): SafetensorsError {
  return new SafetensorsError(
    "wrong_dtype",
    `${describeTensor(t.name)} has dtype ${t.dtype}; ${method} reads ${accepted} (use ${other} or getRaw)`,
    t.name,
  );
}
