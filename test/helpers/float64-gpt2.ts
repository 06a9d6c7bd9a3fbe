/**
 * An independent float64 GPT-2 forward (plain loops over the raw HuggingFace weights, written from
 * the architecture, not from src/gpt2) that can add a perturbation at any TransformerLens hook point:
 * the oracle for finite-difference tests of the backward pass. It follows TransformerLens's hook
 * semantics (e.g. a perturbed hook_scale divides the centred residual; hook_result is summed into
 * attn_out; a perturbed pattern mixes every key, masked or not).
 */
import type { Gpt2Config } from "../../src/gpt2/config.ts";
import type { Gpt2Weights } from "../../src/gpt2/weights.ts";

export interface Perturbation {
  readonly name: string;
  /** Added to the activation (same layout as the hook point's tensor). */
  readonly delta: Float64Array;
}

const C = Math.sqrt(2 / Math.PI);

/** Logits (float64) of the rows `rows` (flat b·pos + p) of ids [batch][pos], with optional perturbations (at different hook points). */
export function logitsFloat64(
  config: Gpt2Config, w: Gpt2Weights, ids: readonly (readonly number[])[], rows: readonly number[], perturbations?: Perturbation | readonly Perturbation[],
): Float64Array[] {
  const list = perturbations === undefined ? [] : Array.isArray(perturbations) ? perturbations : [perturbations as Perturbation];
  const perturbationAt = (name: string) => list.find((p) => p.name === name);
  const { dModel: d, nHeads: H, dHead: dh, dMlp, dVocab, layerNormEps: eps } = config;
  const B = ids.length, P = ids[0]!.length, R = B * P;
  const hook = (name: string, x: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
    const perturb = perturbationAt(name);
    if (perturb === undefined) return x;
    if (perturb.delta.length !== x.length) throw new Error(`perturbation of ${name}: ${perturb.delta.length} vs ${x.length}`);
    return x.map((v, i) => v + perturb.delta[i]!);
  };
  const matmul = (x: Float64Array, rowsN: number, W: Float32Array, inD: number, outD: number, bias: Float32Array | null) => {
    const out = new Float64Array(rowsN * outD);
    for (let r = 0; r < rowsN; r++) {
      for (let j = 0; j < outD; j++) out[r * outD + j] = bias ? bias[j]! : 0;
      for (let i = 0; i < inD; i++) {
        const xv = x[r * inD + i]!;
        if (xv === 0) continue;
        for (let j = 0; j < outD; j++) out[r * outD + j] += xv * W[i * outD + j]!;
      }
    }
    return out;
  };
  const layerNorm = (x: Float64Array, prefix: string, gamma: Float32Array, beta: Float32Array) => {
    const xc = new Float64Array(R * d);
    let scale = new Float64Array(R);
    for (let r = 0; r < R; r++) {
      let mean = 0;
      for (let j = 0; j < d; j++) mean += x[r * d + j]!;
      mean /= d;
      let v = 0;
      for (let j = 0; j < d; j++) {
        xc[r * d + j] = x[r * d + j]! - mean;
        v += xc[r * d + j]! ** 2;
      }
      scale[r] = Math.sqrt(v / d + eps);
    }
    scale = hook(`${prefix}.hook_scale`, scale);
    let n = xc.map((v, i) => v / scale[Math.floor(i / d)]!);
    n = hook(`${prefix}.hook_normalized`, n);
    return n.map((v, i) => v * gamma[i % d]! + beta[i % d]!);
  };

  const embed = hook("hook_embed", Float64Array.from({ length: R * d }, (_, i) => w.tokenEmbedding[ids[Math.floor(i / d / P)]![Math.floor(i / d) % P]! * d + (i % d)]!));
  const posEmbed = hook("hook_pos_embed", Float64Array.from({ length: R * d }, (_, i) => w.positionEmbedding[(Math.floor(i / d) % P) * d + (i % d)]!));
  let resid = embed.map((v, i) => v + posEmbed[i]!);
  for (let L = 0; L < config.nLayers; L++) {
    const b = w.blocks[L]!;
    const at = (s: string) => `blocks.${L}.${s}`;
    resid = hook(at("hook_resid_pre"), resid);
    const ln1 = layerNorm(resid, at("ln1"), b.ln1Weight, b.ln1Bias);
    const qkv = matmul(ln1, R, b.qkvWeight, d, 3 * d, b.qkvBias);
    const part = (k: number) => Float64Array.from({ length: R * d }, (_, i) => qkv[Math.floor(i / d) * 3 * d + k * d + (i % d)]!);
    const q = hook(at("attn.hook_q"), part(0)), k = hook(at("attn.hook_k"), part(1)), v = hook(at("attn.hook_v"), part(2));
    let scores = new Float64Array(B * H * P * P);
    for (let bb = 0; bb < B; bb++) for (let h = 0; h < H; h++) for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) {
      let acc = 0;
      for (let e = 0; e < dh; e++) acc += q[(bb * P + i) * d + h * dh + e]! * k[(bb * P + j) * d + h * dh + e]!;
      scores[((bb * H + h) * P + i) * P + j] = j > i ? -Infinity : acc / Math.sqrt(dh);
    }
    scores = hook(at("attn.hook_attn_scores"), scores);
    let pattern = new Float64Array(scores.length);
    for (let row = 0; row < B * H * P; row++) {
      let max = -Infinity;
      for (let j = 0; j < P; j++) max = Math.max(max, scores[row * P + j]!);
      let sum = 0;
      for (let j = 0; j < P; j++) sum += (pattern[row * P + j] = Math.exp(scores[row * P + j]! - max));
      for (let j = 0; j < P; j++) pattern[row * P + j]! /= sum;
    }
    pattern = hook(at("attn.hook_pattern"), pattern);
    let z = new Float64Array(R * d);
    for (let bb = 0; bb < B; bb++) for (let h = 0; h < H; h++) for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) {
      const p = pattern[((bb * H + h) * P + i) * P + j]!;
      for (let e = 0; e < dh; e++) z[(bb * P + i) * d + h * dh + e] += p * v[(bb * P + j) * d + h * dh + e]!;
    }
    z = hook(at("attn.hook_z"), z);
    let result = new Float64Array(R * H * d);
    for (let r = 0; r < R; r++) for (let h = 0; h < H; h++) for (let e = 0; e < dh; e++) {
      const zv = z[r * d + h * dh + e]!;
      for (let j = 0; j < d; j++) result[(r * H + h) * d + j] += zv * b.outWeight[(h * dh + e) * d + j]!;
    }
    result = hook(at("attn.hook_result"), result);
    let attnOut = new Float64Array(R * d);
    for (let r = 0; r < R; r++) for (let j = 0; j < d; j++) {
      let acc = b.outBias[j]!;
      for (let h = 0; h < H; h++) acc += result[(r * H + h) * d + j]!;
      attnOut[r * d + j] = acc;
    }
    attnOut = hook(at("hook_attn_out"), attnOut);
    const residMid = hook(at("hook_resid_mid"), resid.map((x, i) => x + attnOut[i]!));
    const ln2 = layerNorm(residMid, at("ln2"), b.ln2Weight, b.ln2Bias);
    const pre = hook(at("mlp.hook_pre"), matmul(ln2, R, b.mlpInWeight, d, dMlp, b.mlpInBias));
    const post = hook(at("mlp.hook_post"), pre.map((x) => 0.5 * x * (1 + Math.tanh(C * (x + 0.044715 * x ** 3)))));
    const mlpOut = hook(at("hook_mlp_out"), matmul(post, R, b.mlpOutWeight, dMlp, d, b.mlpOutBias));
    resid = hook(at("hook_resid_post"), residMid.map((x, i) => x + mlpOut[i]!));
  }
  const final = layerNorm(resid, "ln_final", w.lnFinalWeight, w.lnFinalBias);
  return rows.map((r) => {
    const out = new Float64Array(dVocab);
    for (let t = 0; t < dVocab; t++) {
      let acc = w.unembedBias ? w.unembedBias[t]! : 0;
      for (let j = 0; j < d; j++) acc += final[r * d + j]! * w.unembedTransposed[t * d + j]!;
      out[t] = acc;
    }
    const perturb = perturbationAt("logits");
    if (perturb !== undefined) for (let t = 0; t < dVocab; t++) out[t] += perturb.delta[r * dVocab + t]!;
    return out;
  });
}

export function logSumExp64(row: Float64Array): number {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return max + Math.log(sum);
}
