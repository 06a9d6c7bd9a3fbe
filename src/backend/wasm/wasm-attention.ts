/**
 * Attention scores (q·kᵀ/√d_head with the causal mask) and value mixing (pattern · v) on the
 * WebAssembly SIMD128 kernels of attention-kernel.ts (module bytes generated at run time; no Node
 * built-ins, runs in Node ≥ 20 and Deno).
 *
 * Layouts match src/gpt2/components/attention.ts: q, k, v, z are [batch, pos|keys, head, d_head] row-major,
 * scores and pattern [batch, head, query, key]. Results equal the plain-TypeScript loops within
 * float32 rounding (the dot products accumulate in float32 instead of float64); masked scores are
 * exactly −∞ and zero weights are skipped exactly as there.
 *
 * A WasmAttention owns one growable `WebAssembly.Memory`. Each call copies a chunk of whole batch
 * elements in (≈4 MiB of inputs + outputs per chunk, at least one batch element), runs the kernel
 * per (batch, head) plane and copies the results out; nothing is kept between calls but the
 * memory itself. Not reentrant across threads.
 */
import { InputError } from "../../errors.ts";
import { attentionScratchFloats, generateAttentionModule, type AttentionExports } from "./kernels/attention-kernel.ts";
import { wasmSimdSupported } from "./simd-support.ts";
import type { WasmMemory } from "./wasm-api.ts";
import { webAssembly } from "./wasm-api.ts";

const PAGE_BYTES = 65536;
const MAX_PAGES = 65536;
/** Data starts here ([0, 64) unused). */
const BASE = 64;

export interface WasmAttentionOptions {
  /** Input + output floats per chunk of batch elements (≥ 1 batch element; default 2^20). */
  chunkFloats?: number;
}

const align16 = (bytes: number): number => (bytes + 15) & ~15;

function checkDims(what: string, dims: Record<string, number>): void {
  for (const [name, v] of Object.entries(dims)) {
    if (!Number.isInteger(v) || v < 1) throw new InputError(`${what}: ${name}=${v} must be a positive integer`, "bad_shape");
  }
}

function checkLength(what: string, name: string, values: Float32Array, expected: number): void {
  if (values.length !== expected) {
    throw new InputError(`${what}: ${name} has ${values.length} values, expected ${expected}`, "shape_mismatch");
  }
}

export class WasmAttention {
  private readonly memory: WasmMemory;
  private readonly kernel: AttentionExports;
  private readonly chunkFloats: number;
  private heap: Float32Array;

  private constructor(memory: WasmMemory, kernel: AttentionExports, chunkFloats: number) {
    this.memory = memory;
    this.kernel = kernel;
    this.chunkFloats = chunkFloats;
    this.heap = new Float32Array(memory.buffer);
  }

  /** Null where WebAssembly SIMD is unavailable. */
  static create(options: WasmAttentionOptions = {}): WasmAttention | null {
    const wa = webAssembly();
    if (wa === undefined || !wasmSimdSupported()) return null;
    const memory = new wa.Memory({ initial: 1 });
    const instance = new wa.Instance(new wa.Module(generateAttentionModule()), { env: { memory } });
    const chunkFloats = Math.max(1, Math.floor(options.chunkFloats ?? 1 << 20));
    return new WasmAttention(memory, instance.exports as unknown as AttentionExports, chunkFloats);
  }

  /** Bytes of wasm memory currently held. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  private ensure(bytes: number): Float32Array {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      const needPages = Math.ceil((bytes - have) / PAGE_BYTES);
      const havePages = have / PAGE_BYTES;
      if (havePages + needPages > MAX_PAGES) {
        throw new InputError(`wasm attention: a chunk needs ${bytes} bytes of wasm memory (more than 4 GiB)`, "bad_shape");
      }
      this.memory.grow(needPages);
    }
    if (this.heap.buffer !== this.memory.buffer) this.heap = new Float32Array(this.memory.buffer);
    return this.heap;
  }

  private chunkBatches(batch: number, perBatchFloats: number): number {
    return Math.max(1, Math.min(batch, Math.floor(this.chunkFloats / perBatchFloats)));
  }

  /**
   * out[b, h, i, j] = q[b, i, h]·k[b, j, h] / √dHead for j ≤ i + keys − pos, −∞ otherwise.
   * q: [batch, pos, nHeads, dHead], k: [batch, keys, nHeads, dHead], out: [batch, nHeads, pos, keys].
   */
  attentionScores(q: Float32Array, k: Float32Array, batch: number, pos: number, keys: number, nHeads: number, dHead: number, out: Float32Array): void {
    const what = "attentionScores";
    checkDims(what, { batch, pos, keys, nHeads, dHead });
    const rowFloats = nHeads * dHead;
    checkLength(what, "q", q, batch * pos * rowFloats);
    checkLength(what, "k", k, batch * keys * rowFloats);
    checkLength(what, "out", out, batch * nHeads * pos * keys);
    const qPer = pos * rowFloats, kPer = keys * rowFloats, outPer = nHeads * pos * keys;
    const chunk = this.chunkBatches(batch, qPer + kPer + outPer);
    const qPtr = BASE;
    const kPtr = align16(qPtr + chunk * qPer * 4);
    const outPtr = align16(kPtr + chunk * kPer * 4);
    const scratch = align16(outPtr + chunk * outPer * 4);
    const heap = this.ensure(scratch + attentionScratchFloats(pos, keys, dHead) * 4);
    const ld = rowFloats * 4;
    const scale = 1 / Math.sqrt(dHead);
    for (let b0 = 0; b0 < batch; b0 += chunk) {
      const n = Math.min(chunk, batch - b0);
      heap.set(q.subarray(b0 * qPer, (b0 + n) * qPer), qPtr >> 2);
      heap.set(k.subarray(b0 * kPer, (b0 + n) * kPer), kPtr >> 2);
      for (let b = 0; b < n; b++) {
        for (let h = 0; h < nHeads; h++) {
          this.kernel.scoresPlane(
            qPtr + (b * qPer + h * dHead) * 4,
            kPtr + (b * kPer + h * dHead) * 4,
            outPtr + (b * nHeads + h) * pos * keys * 4,
            pos, keys, dHead, ld, scale, scratch,
          );
        }
      }
      out.set(heap.subarray(outPtr >> 2, (outPtr >> 2) + n * outPer), b0 * outPer);
    }
  }

  /**
   * out[b, i, h] = Σ_j pattern[b, h, i, j] · v[b, j, h] (zero weights skipped).
   * pattern: [batch, nHeads, pos, keys], v: [batch, keys, nHeads, dHead], out: [batch, pos, nHeads, dHead].
   */
  mixValues(pattern: Float32Array, v: Float32Array, batch: number, pos: number, keys: number, nHeads: number, dHead: number, out: Float32Array): void {
    const what = "mixValues";
    checkDims(what, { batch, pos, keys, nHeads, dHead });
    const rowFloats = nHeads * dHead;
    checkLength(what, "pattern", pattern, batch * nHeads * pos * keys);
    checkLength(what, "v", v, batch * keys * rowFloats);
    checkLength(what, "out", out, batch * pos * rowFloats);
    const pPer = nHeads * pos * keys, vPer = keys * rowFloats, zPer = pos * rowFloats;
    const chunk = this.chunkBatches(batch, pPer + vPer + zPer);
    const pPtr = BASE;
    const vPtr = align16(pPtr + chunk * pPer * 4);
    const zPtr = align16(vPtr + chunk * vPer * 4);
    const scratch = align16(zPtr + chunk * zPer * 4);
    const heap = this.ensure(scratch + attentionScratchFloats(pos, keys, dHead) * 4);
    const ld = rowFloats * 4;
    for (let b0 = 0; b0 < batch; b0 += chunk) {
      const n = Math.min(chunk, batch - b0);
      heap.set(pattern.subarray(b0 * pPer, (b0 + n) * pPer), pPtr >> 2);
      heap.set(v.subarray(b0 * vPer, (b0 + n) * vPer), vPtr >> 2);
      for (let b = 0; b < n; b++) {
        for (let h = 0; h < nHeads; h++) {
          this.kernel.mixPlane(
            pPtr + (b * nHeads + h) * pos * keys * 4,
            vPtr + (b * vPer + h * dHead) * 4,
            zPtr + (b * zPer + h * dHead) * 4,
            pos, keys, dHead, ld, scratch,
          );
        }
      }
      out.set(heap.subarray(zPtr >> 2, (zPtr >> 2) + n * zPer), b0 * zPer);
    }
  }
}
