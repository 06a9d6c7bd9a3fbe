import { bfloat16ToFloat32Array, halfToFloat32Array } from "./float16.ts";
import {
  HOST_IS_LITTLE_ENDIAN,
  SafetensorsError,
  describeTensor,
  swapBytes,
  type TensorInfo,
} from "./safetensors-format.ts";
import { decodeHeader } from "./safetensors-header.ts";

export interface SafetensorsFile {
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensor names in data-area (offset) order. */
  readonly names: readonly string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
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
    switch (t.dtype) {
      case "F32":
        return new Float32Array(...this.#aligned(t, 4));
      case "F16":
        return halfToFloat32Array(new Uint16Array(...this.#aligned(t, 2)));
      case "BF16":
        return bfloat16ToFloat32Array(new Uint16Array(...this.#aligned(t, 2)));
      default:
        throw wrongDtype(t, "getFloat32", "F32, F16 or BF16", "getInt32");
    }
  }

  getInt32(name: string): Int32Array {
    const t = this.#lookup(name);
    switch (t.dtype) {
      case "I32":
        return new Int32Array(...this.#aligned(t, 4));
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
    const t = this.#tensors.get(name);
    if (t === undefined) {
      throw new SafetensorsError(
        "missing_tensor",
        `${describeTensor(name)} is not in this safetensors file (it has ${this.#tensors.size} tensors)`,
        name,
      );
    }
    return t;
  }

  /** Typed-array constructor arguments over the elements in host byte order: a view when aligned, else a copy. */
  #aligned(t: TensorInfo, width: number): [buffer: ArrayBufferLike, byteOffset: number, length: number] {
    const raw = this.#data.subarray(t.byteOffset, t.byteOffset + t.byteLength);
    const length = t.byteLength / width;
    if (HOST_IS_LITTLE_ENDIAN && raw.byteOffset % width === 0) return [raw.buffer, raw.byteOffset, length];
    const copy = HOST_IS_LITTLE_ENDIAN ? new Uint8Array(raw) : swapBytes(raw, width);
    return [copy.buffer, 0, length];
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
