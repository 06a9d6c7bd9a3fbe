/**
 * The WebAssembly SIMD {@link ForwardKernels}: attention scores and value mixing on one
 * module-level {@link WasmAttention}, gelu_new and row softmax on their own modules, each created
 * on first use (they keep nothing between calls but scratch memory, so every wasm backend can
 * share them). The LayerNorm and residual-sum kernels run on the given workspace's memory (its
 * views in place), else on their own.
 */
import { InputError } from "../../errors.ts";
import type { BackwardKernels } from "../../tensor/backward-kernels.ts";
import type { ForwardKernels } from "../../tensor/forward-kernels.ts";
import { WasmAttention } from "./wasm-attention.ts";
import { wasmSimdSupported } from "./simd-support.ts";
import type { MemoryWorkspace } from "./memory-workspace.ts";
import { createWasmAddInPlace, type WasmAddInPlace } from "./wasm-add.ts";
import { createWasmGelu, type WasmGelu } from "./wasm-gelu.ts";
import { createWasmGeluBackward, type WasmGeluBackward } from "./wasm-gelu-backward.ts";
import { createWasmAttentionBackward } from "./wasm-attention-backward.ts";
import { createWasmLayerNormBackward, type LayerNormBackwardKernels } from "./wasm-layer-norm-backward.ts";
import { createWasmLayerNorm, type WasmLayerNorm } from "./wasm-layer-norm.ts";
import { createWasmSoftmaxRows, type WasmSoftmaxRows } from "./wasm-softmax.ts";

let shared: WasmAttention | null | undefined;
let gelu: WasmGelu | null | undefined;
let softmax: WasmSoftmaxRows | null | undefined;

function required<T>(kernel: T | null): T {
  if (kernel === null) throw new InputError("WebAssembly SIMD is not available in this JavaScript engine", "no_wasm_simd");
  return kernel;
}

function attention(): WasmAttention {
  if (shared === undefined) shared = WasmAttention.create();
  return required(shared);
}

/** Null where WebAssembly SIMD is unavailable. */
export function createWasmForwardKernels(workspace?: MemoryWorkspace): (ForwardKernels & BackwardKernels) | null {
  if (!wasmSimdSupported()) return null;
  let ln: WasmLayerNorm | null | undefined;
  let add: WasmAddInPlace | null | undefined;
  let geluBackward: WasmGeluBackward | null | undefined;
  let lnBackward: LayerNormBackwardKernels | null | undefined;
  const layerNormBackward = (): LayerNormBackwardKernels => required(lnBackward === undefined ? (lnBackward = createWasmLayerNormBackward(workspace)) : lnBackward);
  const layerNorm = (): WasmLayerNorm => required(ln === undefined ? (ln = createWasmLayerNorm(workspace)) : ln);
  const attentionBackward = workspace === undefined ? null : createWasmAttentionBackward(workspace);
  return {
    ...attentionBackward,
    name: "wasm-simd",
    attentionScores: (q, k, batch, pos, keys, nHeads, dHead, out) => attention().attentionScores(q, k, batch, pos, keys, nHeads, dHead, out),
    mixValues: (pattern, v, batch, pos, keys, nHeads, dHead, out) => attention().mixValues(pattern, v, batch, pos, keys, nHeads, dHead, out),
    geluNew: (x, out) => required(gelu === undefined ? (gelu = createWasmGelu()) : gelu)(x, out),
    softmaxRows: (x, width, out) => required(softmax === undefined ? (softmax = createWasmSoftmaxRows()) : softmax)(x, width, out),
    addInPlace: (x, y) => required(add === undefined ? (add = createWasmAddInPlace(workspace)) : add)(x, y),
    layerNormScale: (x, width, eps, scale, normalized) => layerNorm().scale(x, width, eps, scale, normalized),
    layerNormNormalize: (x, width, scale, out) => layerNorm().normalize(x, width, scale, out),
    layerNormAffine: (x, width, weight, bias, out) => layerNorm().affine(x, width, weight, bias, out),
    layerNormAffineBackward: (dOut, width, weight, out) => layerNormBackward().layerNormAffineBackward(dOut, width, weight, out),
    layerNormScaleBackward: (dn, n, scale, width, out) => layerNormBackward().layerNormScaleBackward(dn, n, scale, width, out),
    layerNormInputBackward: (dn, dScale, n, scale, width, out) => layerNormBackward().layerNormInputBackward(dn, dScale, n, scale, width, out),
    geluNewBackward: (pre, dPost, out) =>
      required(geluBackward === undefined ? (geluBackward = createWasmGeluBackward(workspace)) : geluBackward)(pre, dPost, out),
  };
}
