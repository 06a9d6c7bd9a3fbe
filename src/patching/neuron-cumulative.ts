import { blockHook, type HookName } from "../gpt2/hook-names.ts";
import { neuronOutputDirections } from "../gpt2/components/mlp.ts";
import { Tensor } from "../tensor/tensor.ts";
import {
  centerRows, checkLayer, checkPosition, checkTokens, finalScaleAt, type ModelLike, projectToTokens, requireCached, resolveModel,
  rowsAtPosition,
} from "./attribution-common.ts";
import { checkNeurons, type NeuronPatchingOptions } from "./neuron-attribution.ts";
import { PatchingError } from "./patching-error.ts";

export interface CumulativeNeuronPatchingResult {
  /** Logit changes patched − clean, [neurons, batch, tokens]: row n patches neurons[0…n] together. */
  readonly values: Tensor;
  readonly layer: number;
  readonly pos: number;
  readonly neurons: readonly number[];
  readonly tokens: readonly number[];
  readonly ln: "recompute" | "frozen";
}

/**
 * Direct-path patching of the first 1, 2, …, N of `neurons` together (N results for the cost of
 * about one): row n equals neuronDirectPathPatching with `together: true` on neurons[0…n]. Each
 * neuron's change (post_corr − post_clean)·W_out[n] reaches only the final residual stream at
 * `pos`; with ln "recompute" the patched scale is tracked as the changes accumulate
 * (|c_R + C_n|² = |c_R + C_{n−1}|² + 2a (c_R + C_{n−1})·c_n + a²|c_n|², c the centred vectors).
 */
export function cumulativeNeuronPatching(
  model: ModelLike, options: Omit<NeuronPatchingOptions, "together" | "tokens"> & { readonly tokens: readonly number[] },
): CumulativeNeuronPatchingResult {
  const gpt2 = resolveModel(model);
  const { dModel: d, dMlp, nLayers, layerNormEps: eps } = gpt2.config;
  const purpose = "cumulativeNeuronPatching";
  const { clean, corrupted, layer, pos } = options;
  const ln = options.ln ?? "recompute";
  if (ln !== "recompute" && ln !== "frozen") {
    throw new PatchingError("bad_options", `${purpose}: ln must be "recompute" or "frozen", got ${JSON.stringify(ln)}`);
  }
  checkLayer(gpt2.config, layer, purpose);
  const postName: HookName = blockHook(layer, "mlp.hook_post");
  const finalName: HookName = blockHook(nLayers - 1, "hook_resid_post");
  requireCached(clean, [postName, finalName, "ln_final.hook_scale"], `${purpose} (clean run)`);
  requireCached(corrupted, [postName], `${purpose} (corrupted run)`);
  const postClean = clean.get(postName);
  const postCorrupt = corrupted.get(postName);
  const [batch, length] = postClean.shape as [number, number];
  if (postCorrupt.shape[0] !== batch || postCorrupt.shape[1] !== length) {
    throw new PatchingError("shape_mismatch", `${purpose}: corrupted mlp.hook_post is [${postCorrupt.shape.join(", ")}], clean is [${postClean.shape.join(", ")}]`);
  }
  checkPosition(pos, length, purpose);
  const neurons = checkNeurons(options.neurons, dMlp, purpose);
  const tokens = checkTokens(gpt2.config, options.tokens, purpose);
  const N = neurons.length;
  const T = tokens.length;

  const cleanAt = rowsAtPosition(postClean, pos);
  const corruptAt = rowsAtPosition(postCorrupt, pos);
  const delta = (b: number, i: number) => corruptAt[b * dMlp + neurons[i]!]! - cleanAt[b * dMlp + neurons[i]!]!;
  // Directions carry ln_final's weight; its bias adds the same b·W_U[:, t] before and after and cancels.
  const centred = centerRows(neuronOutputDirections(gpt2, layer, neurons).data, d);
  const weights = projectToTokens(gpt2, centred, tokens, true); // [N, T]
  const values = new Float32Array(N * batch * T);

  if (ln === "frozen") {
    const scale = finalScaleAt(clean, batch, length, pos, purpose);
    const running = new Float64Array(batch * T);
    for (let i = 0; i < N; i++) {
      for (let b = 0; b < batch; b++) {
        const a = delta(b, i) / scale[b]!;
        for (let t = 0; t < T; t++) values[(i * batch + b) * T + t] = running[b * T + t] += a * weights[i * T + t]!;
      }
    }
  } else {
    const residual = centerRows(rowsAtPosition(clean.get(finalName), pos), d); // c_R, then c_R + C_n
    const base = projectToTokens(gpt2, residual, tokens, true); // K[b, t]
    const running = new Float64Array(batch * T);
    const own = new Float64Array(N);
    for (let i = 0; i < N; i++) for (let j = 0; j < d; j++) own[i] += centred[i * d + j]! * centred[i * d + j]!;
    for (let b = 0; b < batch; b++) {
      const x = residual.subarray(b * d, (b + 1) * d);
      let norm = 0;
      for (let j = 0; j < d; j++) norm += x[j]! * x[j]!;
      const cleanScale = Math.sqrt(norm / d + eps);
      for (let i = 0; i < N; i++) {
        const a = delta(b, i);
        const c = centred.subarray(i * d, (i + 1) * d);
        let cross = 0;
        for (let j = 0; j < d; j++) cross += x[j]! * c[j]!;
        norm += 2 * a * cross + a * a * own[i]!;
        if (a !== 0) for (let j = 0; j < d; j++) x[j] += a * c[j]!;
        const patchedScale = Math.sqrt(Math.max(norm, 0) / d + eps);
        for (let t = 0; t < T; t++) {
          const k = base[b * T + t]!;
          running[b * T + t] += a * weights[i * T + t]!;
          values[(i * batch + b) * T + t] = (k + running[b * T + t]!) / patchedScale - k / cleanScale;
        }
      }
    }
  }
  return { values: new Tensor(values, [N, batch, T]), layer, pos, neurons, tokens, ln };
}
