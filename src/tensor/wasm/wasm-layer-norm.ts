/**
 * GPT-2's LayerNorm steps (src/tensor/layer-norm.ts: scale, normalize, affine) on the WebAssembly
 * SIMD128 kernel of layer-norm-kernel.ts (module bytes generated at run time; no Node built-ins).
 *
 * Given a {@link MemoryWorkspace} (a backend workspace that can tell its own views), the kernel runs
 * on that memory and reads and writes such views in place; other arrays are copied in and out
 * through a scratch buffer a chunk of rows at a time (≈ 2^16 floats per array). Without one, the
 * kernel owns a small memory and copies everything.
 */
import { InputError } from "../../errors.ts";
import type { MemoryWorkspace } from "./gemm-workspace.ts";
import { generateLayerNormModule, LN_NORMALIZE, LN_SCALE, type LayerNormExports } from "./layer-norm-kernel.ts";
import { isSharedBuffer, overlapsPartially, webAssembly, type WasmMemory } from "./wasm-api.ts";
import { wasmSimdSupported } from "./wasm-gemm.ts";

export interface WasmLayerNorm {
  /** scale[r] = √(var + eps) per row; also (x − mean)/scale[r] into `normalized` when given. */
  scale(x: Float32Array, width: number, eps: number, scale: Float32Array, normalized?: Float32Array): void;
  normalize(x: Float32Array, width: number, scale: Float32Array, out: Float32Array): void;
  affine(x: Float32Array, width: number, weight: Float32Array, bias: Float32Array, out: Float32Array): void;
}

const PAGE_BYTES = 65536;
const BASE = 64;
const CHUNK_FLOATS = 1 << 16;

/** Scratch floats (16-byte aligned) in the kernel's memory; valid until the next call. */
type Scratch = (floats: number) => Float32Array;

function instantiate(memory: WasmMemory): LayerNormExports | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const bytes = generateLayerNormModule({ sharedMemory: isSharedBuffer(memory.buffer) });
  return new wa.Instance(new wa.Module(bytes), { env: { memory } }).exports as unknown as LayerNormExports;
}

function ownMemoryScratch(memory: WasmMemory): Scratch {
  return (floats) => {
    const bytes = BASE + floats * 4;
    const have = memory.buffer.byteLength;
    if (bytes > have) memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    return new Float32Array(memory.buffer, BASE, floats);
  };
}

function workspaceScratch(workspace: MemoryWorkspace): Scratch {
  let buffer: Float32Array | undefined;
  return (floats) => {
    if (buffer === undefined || buffer.length < floats) {
      if (buffer !== undefined) workspace.release(buffer);
      buffer = undefined;
      buffer = workspace.alloc(floats);
    }
    return buffer.subarray(0, floats);
  };
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

/** Byte addresses of row chunks of one array: its own place when in memory, else a scratch region. */
interface Operand {
  readonly data: Float32Array;
  /** Floats per row. */
  readonly per: number;
  readonly inPlace: boolean;
  /** Offset (floats) of its region in the scratch when copied. */
  region: number;
}

/** The LayerNorm kernel on `workspace`'s memory, or on its own memory without one; null without wasm SIMD. */
export function createWasmLayerNorm(workspace?: MemoryWorkspace): WasmLayerNorm | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported()) return null;
  const memory = workspace?.memory ?? new wa.Memory({ initial: 1 });
  const kernel = instantiate(memory);
  if (kernel === null) return null;
  const scratch = workspace === undefined ? ownMemoryScratch(memory) : workspaceScratch(workspace);
  const holds = (view: Float32Array): boolean => workspace?.holds(view) ?? false;

  /**
   * Runs `call(addresses, rows, head)` over chunks of rows: operands in memory in place, the others
   * copied in (`inputs`) and out (`outputs`) through scratch regions after `headFloats` floats at
   * address `head`, which `fill` writes first.
   */
  const chunked = (
    rows: number,
    inputs: readonly (readonly [Float32Array, number])[],
    outputs: readonly (readonly [Float32Array, number])[],
    headFloats: number,
    fill: (view: Float32Array) => void,
    call: (addresses: number[], rows: number, head: number) => void,
  ): void => {
    const ops: Operand[] = [...inputs, ...outputs].map(([data, per]) => ({ data, per, inPlace: holds(data), region: 0 }));
    const copied = ops.filter((o) => !o.inPlace);
    const perRow = copied.reduce((s, o) => s + o.per, 0);
    const chunkRows = perRow === 0 ? rows : Math.max(1, Math.min(rows, Math.floor(CHUNK_FLOATS / perRow)));
    let floats = Math.ceil(headFloats / 4) * 4;
    for (const o of copied) {
      o.region = floats;
      floats += Math.ceil((chunkRows * o.per) / 4) * 4;
    }
    const view = scratch(Math.max(floats, 4));
    fill(view);
    for (let r0 = 0; r0 < rows; r0 += chunkRows) {
      const n = Math.min(chunkRows, rows - r0);
      const addresses = ops.map((o, i) => {
        const from = r0 * o.per;
        if (o.inPlace) return o.data.byteOffset + from * 4;
        if (i < inputs.length) view.set(o.data.subarray(from, from + n * o.per), o.region);
        return view.byteOffset + o.region * 4;
      });
      call(addresses, n, view.byteOffset);
      ops.forEach((o, i) => {
        if (i >= inputs.length && !o.inPlace) o.data.set(view.subarray(o.region, o.region + n * o.per), r0 * o.per);
      });
    }
  };

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
      chunked(rows, [[src, width]], outputs, 0, () => {}, ([xp, sp, dp], n) => kernel.normalizeRows(xp!, dp ?? 0, sp!, n, width, eps, mode));
    },
    normalize(x, width, scale, out) {
      const rows = rowsOf("layerNormNormalize", x, width);
      checkLength("layerNormNormalize", "scale", scale, rows);
      checkLength("layerNormNormalize", "out", out, x.length);
      if (rows === 0) return;
      const src = source(x, out);
      chunked(rows, [[src, width], [scale, 1]], [[out, width]], 0, () => {}, ([xp, sp, dp], n) => kernel.normalizeRows(xp!, dp!, sp!, n, width, 0, LN_NORMALIZE));
    },
    affine(x, width, weight, bias, out) {
      const rows = rowsOf("layerNormAffine", x, width);
      checkLength("layerNormAffine", "weight", weight, width);
      checkLength("layerNormAffine", "bias", bias, width);
      checkLength("layerNormAffine", "out", out, x.length);
      if (rows === 0) return;
      const src = source(x, out);
      const head = (view: Float32Array): void => {
        const wide = new Float64Array(view.buffer, view.byteOffset, 2 * width);
        for (let j = 0; j < width; j++) {
          wide[j] = weight[j]!;
          wide[width + j] = bias[j]!;
        }
      };
      chunked(rows, [[src, width]], [[out, width]], 4 * width, head, ([xp, dp], n, w) => kernel.affineRows(xp!, dp!, n, width, w, w + 8 * width));
    },
  };
}
