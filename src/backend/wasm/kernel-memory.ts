/**
 * Where a kernel's operands live during a call: arrays in the given workspace's memory are used in
 * place (their byteOffset is their address); any other array is copied in and out through a
 * scratch buffer in that memory, a chunk of rows at a time (≈ 2^16 floats per chunk). Without a
 * workspace the kernel owns a small memory and copies everything.
 */
import type { MemoryWorkspace } from "./memory-workspace.ts";
import type { WasmMemory, WebAssemblyApi } from "./wasm-api.ts";

/** An array and its floats per row. */
export type Operand = readonly [Float32Array, number];

export interface KernelMemory {
  readonly memory: WasmMemory;
  /**
   * Runs `call(addresses, rows, head)` over chunks of `rows` rows: `addresses` holds, in the order
   * of `inputs` then `outputs`, the byte address of the chunk's first row of each operand (copied
   * in before the call for inputs, out after it for outputs). `head` is the address of
   * `headFloats` scratch floats (16-byte aligned), which `fill` writes once before the first call.
   */
  chunked(
    rows: number,
    inputs: readonly Operand[],
    outputs: readonly Operand[],
    call: (addresses: number[], rows: number, head: number) => void,
    headFloats?: number,
    fill?: (head: Float32Array) => void,
  ): void;
}

const PAGE_BYTES = 65536;
const BASE = 64;
const CHUNK_FLOATS = 1 << 16;

/** Scratch floats (16-byte aligned) in the memory; valid until the next request. */
type Scratch = (floats: number) => Float32Array;

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

const round4 = (floats: number): number => Math.ceil(floats / 4) * 4;

export function kernelMemory(wa: WebAssemblyApi, workspace?: MemoryWorkspace): KernelMemory {
  const memory = workspace?.memory ?? new wa.Memory({ initial: 1 });
  const scratch = workspace === undefined ? ownMemoryScratch(memory) : workspaceScratch(workspace);
  return {
    memory,
    chunked(rows, inputs, outputs, call, headFloats = 0, fill) {
      const ops = [...inputs, ...outputs].map(([data, per], i) => ({ data, per, input: i < inputs.length, inPlace: workspace?.holds(data) ?? false, region: 0 }));
      const copied = ops.filter((o) => !o.inPlace);
      const perRow = copied.reduce((s, o) => s + o.per, 0);
      const chunkRows = perRow === 0 ? rows : Math.max(1, Math.min(rows, Math.floor(CHUNK_FLOATS / perRow)));
      let floats = round4(headFloats);
      for (const o of copied) {
        o.region = floats;
        floats += round4(chunkRows * o.per);
      }
      const view = scratch(Math.max(floats, 4));
      fill?.(view.subarray(0, headFloats));
      for (let r0 = 0; r0 < rows; r0 += chunkRows) {
        const n = Math.min(chunkRows, rows - r0);
        const addresses = ops.map((o) => {
          const from = r0 * o.per;
          if (o.inPlace) return o.data.byteOffset + from * 4;
          if (o.input) view.set(o.data.subarray(from, from + n * o.per), o.region);
          return view.byteOffset + o.region * 4;
        });
        call(addresses, n, view.byteOffset);
        for (const o of ops) if (!o.input && !o.inPlace) o.data.set(view.subarray(o.region, o.region + n * o.per), r0 * o.per);
      }
    },
  };
}
