/**
 * The WebAssembly SIMD {@link ForwardKernels}: attention scores and value mixing on one
 * module-level {@link WasmAttention}, created on first use (it keeps nothing between calls but its
 * scratch memory, so every wasm backend can share it).
 */
import { InputError } from "../../errors.ts";
import type { ForwardKernels } from "../forward-kernels.ts";
import { WasmAttention } from "./wasm-attention.ts";
import { wasmSimdSupported } from "./wasm-gemm.ts";

let shared: WasmAttention | null | undefined;

function attention(): WasmAttention {
  if (shared === undefined) shared = WasmAttention.create();
  if (shared === null) throw new InputError("WebAssembly SIMD is not available in this JavaScript engine", "no_wasm_simd");
  return shared;
}

/** Null where WebAssembly SIMD is unavailable. */
export function createWasmForwardKernels(): ForwardKernels | null {
  if (!wasmSimdSupported()) return null;
  return {
    name: "wasm-simd",
    attentionScores: (q, k, batch, pos, keys, nHeads, dHead, out) => attention().attentionScores(q, k, batch, pos, keys, nHeads, dHead, out),
    mixValues: (pattern, v, batch, pos, keys, nHeads, dHead, out) => attention().mixValues(pattern, v, batch, pos, keys, nHeads, dHead, out),
  };
}
