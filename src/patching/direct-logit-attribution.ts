import type { ActivationCache } from "../hooks/activation-cache.ts";
import { blockHook, type HookName } from "../gpt2/hook-names.ts";
import { headOut } from "../gpt2/components/attention-head.ts";
import { neuronOutputDirections } from "../gpt2/components/mlp.ts";
import { shapeToString, Tensor } from "../tensor/tensor.ts";
import {
  type AttributionResult,
  centerRows,
  checkLayer,
  checkPosition,
  checkTokens,
  finalScaleAt,
  type ModelLike,
  projectToTokens,
  requireCached,
  resolveModel,
  rowsAtPosition,
  runShape,
  type TokenIds,
} from "./attribution-common.ts";
import { checkNeurons } from "./neuron-attribution.ts";
import { PatchingError } from "./patching-error.ts";

export interface DlaOptions {
  /** The position whose logits are attributed (e.g. END). */
  readonly pos: number;
  /** Tokens whose logits are attributed. */
  readonly tokens: TokenIds;
  /**
   * Apply the final LayerNorm as TransformerLens' `apply_ln_to_stack` does: centre each component
   * and divide by the clean run's cached `ln_final.hook_scale` at `pos`. Because this model's
   * ln_final weight is not folded into W_U, it is folded into the token directions instead
   * (direction_t = w_ln ⊙ W_U[:, t]), so the attributions are exactly the components' additive shares
   * of the logits; ln_final's bias (b_ln · W_U[:, t]) belongs to no component. Default false: plain
   * component · W_U[:, t].
   */
  readonly applyLn?: boolean;
  /** Layers to include (default all). */
  readonly layers?: readonly number[];
}

export interface StackLnOptions {
  /** When given, the stack is [..., batch, d_model] at this position; otherwise [..., batch, pos, d_model]. */
  readonly pos?: number;
}

/**
 * TransformerLens' `apply_ln_to_stack` with a frozen scale: centres every d_model vector of the
 * stack and divides it by the cached `ln_final.hook_scale` of its prompt (and position). The result
 * is linear in the stack, so components' normalised contributions add up. No weight or bias.
 */
export function applyLnToStack(cache: ActivationCache, stack: Tensor, options: StackLnOptions = {}): Tensor {
  const purpose = "applyLnToStack";
  requireCached(cache, ["ln_final.hook_scale"], purpose);
  const scale = cache.get("ln_final.hook_scale");
  const [batch, length] = scale.shape as [number, number];
  const d = stack.shape[stack.rank - 1]!;
  const expectedTail = options.pos === undefined ? [batch, length, d] : [batch, d];
  const tail = stack.shape.slice(stack.rank - expectedTail.length);
  if (stack.rank < expectedTail.length || tail.some((dim, i) => dim !== expectedTail[i])) {
    throw new PatchingError(
      "shape_mismatch",
      `${purpose}: stack of shape ${shapeToString(stack.shape)} does not end in ${shapeToString(expectedTail)} ` +
        `(the cached ln_final.hook_scale is [${batch}, ${length}, 1])`,
    );
  }
  let scales: Float32Array;
  if (options.pos === undefined) scales = scale.data;
  else {
    checkPosition(options.pos, length, purpose);
    scales = finalScaleAt(cache, batch, length, options.pos, purpose);
  }
  const out = centerRows(stack.data, d);
  const rowsPerScale = scales.length;
  for (let row = 0; row < out.length / d; row++) {
    const inv = 1 / scales[row % rowsPerScale]!;
    for (let j = 0; j < d; j++) out[row * d + j]! *= inv;
  }
  return new Tensor(out, stack.shape);
}

/**
 * Direct logit attribution of a stack of residual-stream vectors at `pos` ([..., batch, d_model])
 * to `tokens`: vector · W_U[:, t] (or, with `applyLn`, the LayerNorm-scaled share; see `DlaOptions`).
 * Returns [..., batch, tokens.length]. This is TransformerLens' `logit_attrs` for one position.
 */
export function logitAttrs(
  model: ModelLike, cache: ActivationCache, stack: Tensor, options: Omit<DlaOptions, "layers">,
): Tensor {
  const gpt2 = resolveModel(model);
  const { dModel: d } = gpt2.config;
  const tokens = checkTokens(gpt2.config, options.tokens, "logitAttrs");
  if (stack.shape[stack.rank - 1] !== d) {
    throw new PatchingError("shape_mismatch", `logitAttrs: stack of shape ${shapeToString(stack.shape)} does not end in d_model ${d}`);
  }
  const applyLn = options.applyLn ?? false;
  const vectors = applyLn ? applyLnToStack(cache, stack, { pos: options.pos }) : stack;
  const values = projectToTokens(gpt2, vectors.data, tokens, applyLn);
  return new Tensor(values, [...stack.shape.slice(0, -1), tokens.length]);
}

function layersOf(options: DlaOptions, nLayers: number): number[] {
  return options.layers ? [...options.layers] : Array.from({ length: nLayers }, (_, l) => l);
}

/**
 * Per-head DLA: each head's output at `pos` (`attn.hook_result`, no c_proj bias) · W_U[:, tokens].
 * Uses `blocks.L.attn.hook_result` when cached, otherwise rebuilds it from `blocks.L.attn.hook_z`.
 * Values [heads, batch, tokens.length] with labels "L{layer}H{head}".
 */
export function headDla(model: ModelLike, cache: ActivationCache, options: DlaOptions): AttributionResult {
  const gpt2 = resolveModel(model);
  const { nHeads, dHead, dModel: d, nLayers } = gpt2.config;
  const purpose = "headDla";
  const layers = layersOf(options, nLayers);
  const vectors: Float32Array[] = [];
  const labels: string[] = [];
  let batch = 0;
  for (const layer of layers) {
    checkLayer(gpt2.config, layer, purpose);
    const resultName = blockHook(layer, "attn.hook_result");
    const zName = blockHook(layer, "attn.hook_z");
    if (!cache.has(resultName) && !cache.has(zName)) {
      throw new PatchingError(
        "not_cached",
        `${purpose} needs "${resultName}" (or "${zName}") in the activation cache; run the model with ` +
          `{ cache: ["${resultName}"] } for every layer (or cache: true)`,
      );
    }
    const source = cache.get(cache.has(resultName) ? resultName : zName);
    const [b, length] = source.shape as [number, number];
    batch = b;
    checkPosition(options.pos, length, purpose);
    for (let head = 0; head < nHeads; head++) {
      let rows: Float32Array;
      if (cache.has(resultName)) {
        rows = new Float32Array(b * d);
        for (let i = 0; i < b; i++) {
          const from = ((i * length + options.pos) * nHeads + head) * d;
          rows.set(source.data.subarray(from, from + d), i * d);
        }
      } else {
        const z = new Float32Array(b * dHead);
        for (let i = 0; i < b; i++) {
          const from = ((i * length + options.pos) * nHeads + head) * dHead;
          z.set(source.data.subarray(from, from + dHead), i * dHead);
        }
        rows = headOut(gpt2, layer, head, new Tensor(z, [b, dHead])).data;
      }
      vectors.push(rows);
      labels.push(`L${layer}H${head}`);
    }
  }
  return stackAttribution(gpt2, cache, vectors, batch, labels, "head", options);
}

/** Per-MLP DLA: `blocks.L.hook_mlp_out` at `pos` · W_U[:, tokens]; values [layers, batch, tokens], labels "MLP{layer}". */
export function mlpDla(model: ModelLike, cache: ActivationCache, options: DlaOptions): AttributionResult {
  const gpt2 = resolveModel(model);
  const purpose = "mlpDla";
  const layers = layersOf(options, gpt2.config.nLayers);
  layers.forEach((layer) => checkLayer(gpt2.config, layer, purpose));
  const names = layers.map((layer) => blockHook(layer, "hook_mlp_out"));
  requireCached(cache, names, purpose);
  const vectors: Float32Array[] = [];
  let batch = 0;
  for (const name of names) {
    const out = cache.get(name);
    batch = out.shape[0]!;
    checkPosition(options.pos, out.shape[1]!, purpose);
    vectors.push(rowsAtPosition(out, options.pos));
  }
  return stackAttribution(gpt2, cache, vectors, batch, layers.map((l) => `MLP${l}`), "mlp", options);
}

function stackAttribution(
  model: ModelLike, cache: ActivationCache, vectors: Float32Array[], batch: number, labels: string[], axis: string,
  options: DlaOptions,
): AttributionResult {
  const gpt2 = resolveModel(model);
  const d = gpt2.config.dModel;
  const data = new Float32Array(vectors.length * batch * d);
  vectors.forEach((v, i) => data.set(v, i * batch * d));
  const stack = new Tensor(data, [vectors.length, batch, d]);
  const values = logitAttrs(gpt2, cache, stack, options);
  return { values, axes: [axis, "batch", "token"], labelAxis: axis, labels };
}

/**
 * Per-neuron DLA of MLP `layer` at `pos`: hook_post[b, pos, n] · (W_out[n, :] · W_U[:, t]) →
 * values [batch, neurons, tokens.length] (all d_mlp neurons unless `neurons` is given), labels
 * "L{layer}N{n}". No LayerNorm unless `applyLn` (then W_out[n, :] is centred, the direction is
 * w_ln ⊙ W_U[:, t], and each prompt's value is divided by its cached `ln_final.hook_scale` at `pos`).
 */
export function neuronDla(
  model: ModelLike, cache: ActivationCache, layer: number, pos: number, tokens: TokenIds,
  options: { readonly applyLn?: boolean; readonly neurons?: readonly number[] } = {},
): AttributionResult {
  const gpt2 = resolveModel(model);
  const { dMlp } = gpt2.config;
  const purpose = "neuronDla";
  checkLayer(gpt2.config, layer, purpose);
  const ids = checkTokens(gpt2.config, tokens, purpose);
  const postName: HookName = blockHook(layer, "mlp.hook_post");
  const { batch, length } = runShape(cache, postName, purpose);
  checkPosition(pos, length, purpose);
  const applyLn = options.applyLn ?? false;
  const scales = applyLn ? finalScaleAt(cache, batch, length, pos, purpose) : null;
  const neurons = options.neurons === undefined ? Array.from({ length: dMlp }, (_, n) => n) : checkNeurons(options.neurons, dMlp, purpose);
  const N = neurons.length;
  const weights = neuronTokenWeights(gpt2, layer, neurons, ids, applyLn);
  const post = rowsAtPosition(cache.get(postName), pos);
  const T = ids.length;
  const out = new Float32Array(batch * N * T);
  for (let b = 0; b < batch; b++) {
    const inv = scales ? 1 / scales[b]! : 1;
    for (let i = 0; i < N; i++) {
      const activation = post[b * dMlp + neurons[i]!]! * inv;
      const row = i * T;
      const base = (b * N + i) * T;
      for (let t = 0; t < T; t++) out[base + t] = activation * weights[row + t]!;
    }
  }
  return {
    values: new Tensor(out, [batch, N, T]),
    axes: ["batch", "neuron", "token"],
    labelAxis: "neuron",
    labels: neurons.map((n) => `L${layer}N${n}`),
  };
}

/**
 * W_out[n, :] · W_U[:, t] for the given neurons (all when null) → [neurons, tokens] row-major.
 * With `applyLn`, W_out rows are centred and the directions carry ln_final's weight.
 */
export function neuronTokenWeights(
  model: ModelLike, layer: number, neurons: readonly number[] | null, tokens: readonly number[] | null, applyLn: boolean,
): Float32Array {
  const gpt2 = resolveModel(model);
  const d = gpt2.config.dModel;
  const all = Array.from({ length: gpt2.config.dMlp }, (_, n) => n);
  let rows = neuronOutputDirections(gpt2, layer, neurons ?? all).data;
  if (applyLn) rows = centerRows(rows, d);
  return projectToTokens(gpt2, rows, tokens, applyLn);
}
