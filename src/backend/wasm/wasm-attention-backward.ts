/**
 * The attention backward kernels of attention-backward-kernel.ts on a {@link MemoryWorkspace}'s
 * (shared) memory: operands that are views of it are used in place, other arrays are copied into
 * workspace buffers for the call (outputs copied back). `run` calls a kernel function over all
 * planes (or rows): on this thread by default, split over a worker pool by pool-attention-backward.ts.
 */
import { InputError } from "../../errors.ts";
import type { BackwardKernels } from "../../tensor/backward-kernels.ts";
import {
  type AttentionBackwardExports, type AttentionBackwardFunction, generateAttentionBackwardModule,
} from "./kernels/attention-backward-kernel.ts";
import type { MemoryWorkspace } from "./memory-workspace.ts";
import { isSharedBuffer, webAssembly } from "./wasm-api.ts";
import { wasmSimdSupported } from "./simd-support.ts";

export type AttentionBackwardKernels = Required<Pick<BackwardKernels, "mixValuesBackward" | "softmaxBackwardRows" | "attentionScoresBackward">>;

/**
 * Runs `fn` on `count` planes (rows for softmaxBackwardRows) with `args` as the kernel takes them
 * for all of them (plane0 = 0, planes = count); `work` is the cost of one plane or row.
 */
export type AttentionBackwardRunner = (fn: AttentionBackwardFunction, count: number, args: number[], work: number) => void;

const overlap = (a: Float32Array, b: Float32Array): boolean =>
  a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;

/**
 * Byte addresses of `inputs` then `outputs` in the workspace's memory for `call`: views of it in
 * place (an output only when it overlaps no input, or is exactly that input when `sameOk`),
 * everything else through workspace buffers released afterwards.
 */
function staged(workspace: MemoryWorkspace, inputs: readonly Float32Array[], outputs: readonly Float32Array[], sameOk: boolean,
  call: (addresses: number[]) => void): void {
  const taken: Float32Array[] = [];
  const copyOut: [Float32Array, Float32Array][] = [];
  const place = (a: Float32Array): Float32Array => {
    const view = workspace.alloc(Math.max(a.length, 4));
    taken.push(view);
    return view;
  };
  try {
    const addresses = inputs.map((a) => {
      if (workspace.holds(a)) return a.byteOffset;
      const view = place(a);
      view.set(a);
      return view.byteOffset;
    });
    for (const out of outputs) {
      const inPlace = workspace.holds(out) && inputs.every((a) => !overlap(a, out) || (sameOk && a.byteOffset === out.byteOffset && a.length === out.length));
      if (inPlace) {
        addresses.push(out.byteOffset);
      } else {
        const view = place(out);
        copyOut.push([view, out]);
        addresses.push(view.byteOffset);
      }
    }
    call(addresses);
    for (const [view, out] of copyOut) out.set(view.subarray(0, out.length));
  } finally {
    for (const view of taken) workspace.release(view);
  }
}

function checkLengths(where: string, got: readonly Float32Array[], want: readonly number[]): void {
  got.forEach((a, i) => {
    if (a.length !== want[i]) throw new InputError(`${where}: operand ${i} holds ${a.length} values, expected ${want[i]}`, "shape_mismatch");
  });
}

/** The kernels on `workspace`'s memory (which must be shared), run by `runner` (default: on this thread); null without wasm SIMD. */
export function createWasmAttentionBackward(workspace: MemoryWorkspace, runner?: AttentionBackwardRunner): AttentionBackwardKernels | null {
  const wa = webAssembly();
  if (wa === undefined || !wasmSimdSupported() || !isSharedBuffer(workspace.memory.buffer)) return null;
  let local: AttentionBackwardExports | undefined;
  const run: AttentionBackwardRunner = runner ?? ((fn, _count, args) => {
    local ??= new wa.Instance(new wa.Module(generateAttentionBackwardModule()), { env: { memory: workspace.memory } }).exports as unknown as AttentionBackwardExports;
    (local[fn] as (...a: number[]) => void)(...args);
  });
  return {
    mixValuesBackward(dz, pattern, v, batch, pos, keys, nHeads, dHead, maskedToo, dPattern, dV) {
      const d = nHeads * dHead, planes = batch * nHeads;
      checkLengths("mixValuesBackward", [dz, pattern, v, dPattern, dV], [batch * pos * d, planes * pos * keys, batch * keys * d, planes * pos * keys, batch * keys * d]);
      if (planes === 0 || pos === 0) return void dV.fill(0);
      staged(workspace, [dz, pattern, v], [dPattern, dV], false, ([z, p, vv, dp, dv]) =>
        run("mixBackwardPlanes", planes, [z!, p!, vv!, dp!, dv!, 0, planes, pos, keys, nHeads, dHead, maskedToo ? 1 : 0], pos * keys * dHead));
    },
    softmaxBackwardRows(pattern, dPattern, keys, out) {
      checkLengths("softmaxBackwardRows", [dPattern, out], [pattern.length, pattern.length]);
      const rows = pattern.length / keys;
      if (!Number.isInteger(rows)) throw new InputError(`softmaxBackwardRows: ${pattern.length} values are not rows of ${keys}`, "shape_mismatch");
      if (rows === 0) return;
      staged(workspace, [pattern, dPattern], [out], true, ([p, g, o]) => run("softmaxBackwardRows", rows, [p!, g!, o!, rows, keys], keys));
    },
    attentionScoresBackward(dScores, q, k, batch, pos, keys, nHeads, dHead, dQ, dK) {
      const d = nHeads * dHead, planes = batch * nHeads;
      checkLengths("attentionScoresBackward", [dScores, q, k, dQ, dK], [planes * pos * keys, batch * pos * d, batch * keys * d, batch * pos * d, batch * keys * d]);
      if (planes === 0 || pos === 0) return void dK.fill(0);
      staged(workspace, [dScores, q, k], [dQ, dK], false, ([s, qq, kk, dq, dk]) =>
        run("scoresBackwardPlanes", planes, [s!, qq!, kk!, dq!, dk!, 0, planes, pos, keys, nHeads, dHead], pos * keys * dHead));
    },
  };
}
