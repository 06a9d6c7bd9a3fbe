/**
 * A safetensors file read on demand: the header is read and validated when the file is opened (with
 * the same strict rules and SafetensorsErrors as parseSafetensors), and each tensor's bytes are read
 * from the file into their own, exactly-sized buffer only when asked for. Loading a model this way
 * never holds the whole file in memory.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { Gpt2LensError } from "../errors.ts";
import { HOST_IS_LITTLE_ENDIAN, lookupTensor, SafetensorsError, type TensorInfo } from "./safetensors-format.ts";
import {
  decodeFloat32Tensor,
  parseSafetensorsHeader,
  safetensorsHeaderSize,
  type Float32TensorSource,
  type ParseSafetensorsOptions,
} from "./safetensors-read.ts";

export interface SafetensorsFileSourceOptions extends ParseSafetensorsOptions {
  /** Called after every read with the bytes read so far (header and tensors) and the file's size. */
  onRead?: (bytesRead: number, fileSize: number) => void;
  /** Called before each tensor read with the tensor's byte length. */
  beforeRead?: (byteLength: number) => void;
}

/** Largest single read (readSync takes at most 2^31 - 1 bytes). */
const MAX_READ = 1 << 30;
/** Largest tensor {@link SafetensorsFileSource.getFloat32Transient} reads into its reused buffer. */
const SCRATCH_LIMIT = 64 << 20;

export class SafetensorsFileSource implements Float32TensorSource {
  readonly path: string;
  /** File size in bytes when opened. */
  readonly size: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly names: readonly string[];
  /** Bytes read from the file so far (a tensor read twice counts twice). */
  bytesRead = 0;
  #fd: number | null;
  readonly #mtimeMs: number;
  readonly #dataStart: number;
  readonly #tensors: Map<string, TensorInfo>;
  readonly #onRead: ((bytesRead: number, fileSize: number) => void) | undefined;
  readonly #beforeRead: ((byteLength: number) => void) | undefined;
  #scratch: ArrayBuffer | null = null;

  /**
   * Opens `path` and validates its header. File-system errors are thrown as Node reports them
   * (with `code` ENOENT, EISDIR, ...); a bad header is a SafetensorsError. The file stays open
   * until {@link close}; afterwards, reads reopen it briefly and fail with `file_changed` if it
   * changed, shrank or went away meanwhile.
   */
  static open(path: string, options: SafetensorsFileSourceOptions = {}): SafetensorsFileSource {
    const fd = openSync(path, "r");
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile()) {
        throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: "EISDIR" });
      }
      const size = stats.size;
      let bytesRead = 0;
      const first = readFully(fd, path, 0, Math.min(8, size));
      bytesRead += first.length;
      const headerSize = safetensorsHeaderSize(first, size, options);
      const rest = readFully(fd, path, first.length, headerSize - first.length);
      bytesRead += rest.length;
      const headerBytes = new Uint8Array(headerSize);
      headerBytes.set(first);
      headerBytes.set(rest, first.length);
      const header = parseSafetensorsHeader(headerBytes, size, options);
      const source = new SafetensorsFileSource(path, fd, size, stats.mtimeMs, header.dataStart, header.metadata, header.tensors, options);
      source.bytesRead = bytesRead;
      source.#onRead?.(bytesRead, size);
      return source;
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  private constructor(
    path: string,
    fd: number,
    size: number,
    mtimeMs: number,
    dataStart: number,
    metadata: Readonly<Record<string, string>>,
    tensors: readonly TensorInfo[],
    options: SafetensorsFileSourceOptions,
  ) {
    this.path = path;
    this.#fd = fd;
    this.size = size;
    this.#mtimeMs = mtimeMs;
    this.#dataStart = dataStart;
    this.metadata = metadata;
    this.names = Object.freeze(tensors.map((t) => t.name));
    this.#tensors = new Map(tensors.map((t) => [t.name, t]));
    this.#onRead = options.onRead;
    this.#beforeRead = options.beforeRead;
  }

  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.#lookup(name);
    return { ...t, shape: [...t.shape] };
  }

  /** The tensor's little-endian bytes, freshly read into a buffer of exactly their size. */
  getRaw(name: string): Uint8Array {
    const t = this.#lookup(name);
    return this.#read(this.#dataStart + t.byteOffset, t.byteLength);
  }

  /** F32 (a view over the freshly read bytes), or F16/BF16 widened exactly. */
  getFloat32(name: string): Float32Array {
    const t = this.#lookup(name);
    if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16") return decodeFloat32Tensor(t, new Uint8Array(0));
    return decodeFloat32Tensor(t, this.#read(this.#dataStart + t.byteOffset, t.byteLength));
  }

  /**
   * Like getFloat32, but an F32 tensor of up to 64 MiB is read into a buffer reused by the next
   * such call (while the file is open): the result is valid only until then. For a caller that
   * copies the values at once (a backend packing a weight), this avoids allocating and freeing a
   * buffer per tensor.
   */
  getFloat32Transient(name: string): Float32Array {
    const t = this.#lookup(name);
    if (t.dtype !== "F32" || t.byteLength > SCRATCH_LIMIT || this.#fd === null || !HOST_IS_LITTLE_ENDIAN) {
      return this.getFloat32(name);
    }
    if (this.#scratch === null || this.#scratch.byteLength < t.byteLength) this.#scratch = new ArrayBuffer(t.byteLength);
    this.#beforeRead?.(t.byteLength);
    const bytes = new Uint8Array(this.#scratch, 0, t.byteLength);
    readInto(this.#fd, this.path, this.#dataStart + t.byteOffset, bytes);
    this.bytesRead += t.byteLength;
    this.#onRead?.(this.bytesRead, this.size);
    return new Float32Array(this.#scratch, 0, t.byteLength / 4);
  }

  /** Closes the file handle; later reads reopen the file for the duration of the read. */
  close(): void {
    this.#scratch = null;
    if (this.#fd === null) return;
    const fd = this.#fd;
    this.#fd = null;
    closeSync(fd);
  }

  #read(position: number, length: number): Uint8Array {
    this.#beforeRead?.(length);
    let bytes: Uint8Array;
    if (this.#fd !== null) {
      bytes = readFully(this.#fd, this.path, position, length);
    } else {
      const fd = reopen(this.path);
      try {
        const stats = fstatSync(fd);
        if (stats.size !== this.size || stats.mtimeMs !== this.#mtimeMs) {
          throw new Gpt2LensError("file_changed", `${this.path} changed after it was loaded; cannot read its tensors again`);
        }
        bytes = readFully(fd, this.path, position, length);
      } finally {
        closeSync(fd);
      }
    }
    this.bytesRead += length;
    this.#onRead?.(this.bytesRead, this.size);
    return bytes;
  }

  #lookup(name: string): TensorInfo {
    return lookupTensor(this.#tensors, name);
  }
}

function reopen(path: string): number {
  try {
    return openSync(path, "r");
  } catch (error) {
    const code = (error as { code?: string }).code;
    const what = code === "ENOENT" || code === "ENOTDIR" ? "was deleted or moved" : `cannot be reopened (${(error as Error).message})`;
    throw new Gpt2LensError("file_changed", `${path} ${what} after it was loaded; cannot read its tensors again`, { cause: error });
  }
}

function readFully(fd: number, path: string, position: number, length: number): Uint8Array {
  return readInto(fd, path, position, new Uint8Array(length));
}

function readInto(fd: number, path: string, position: number, out: Uint8Array): Uint8Array {
  const length = out.length;
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, Math.min(MAX_READ, length - done), position + done);
    if (n === 0) throw new Gpt2LensError("file_changed", `${path} ended early: it shrank while being read`);
    done += n;
  }
  return out;
}
