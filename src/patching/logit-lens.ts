import type { ActivationCache } from "../hooks/activation-cache.ts";
import { takeAxis } from "../tensor/indexing.ts";
import { unembed, unembedTokens } from "../gpt2/components/unembed.ts";
import { shapeToString, Tensor } from "../tensor/tensor.ts";
import {
  type AttributionResult,
  checkPosition,
  checkTokens,
  type ModelLike,
  requireCached,
  resolveModel,
  type TokenIds,
} from "./attribution-common.ts";
import { PatchingError } from "./patching-error.ts";

/**
 * How ln_final treats the lensed activation: "recompute" normalises it with its own mean and scale
 * (what the model would do if this were its final residual stream); "frozen" centres it and divides
 * by the clean run's cached `ln_final.hook_scale` (linear in the activation; needs `cache`).
 */
export type LnMode = "recompute" | "frozen";

export interface LogitLensOptions {
  readonly ln: LnMode;
  /** The run whose `ln_final.hook_scale` the "frozen" mode divides by. */
  readonly cache?: ActivationCache;
  /** Positions to unembed (default all). */
  readonly positions?: readonly number[];
  /** Token ids whose logits to return (default the whole vocabulary). */
  readonly tokens?: TokenIds;
}

export interface LogitLensResult extends AttributionResult {
  /** [(components,) batch, positions, tokens.length or d_vocab]. */
  readonly values: Tensor;
  readonly positions: readonly number[];
  /** The token ids of the last axis, or null for the whole vocabulary. */
  readonly tokens: readonly number[] | null;
}

/**
 * The logit lens: ln_final and the unembedding (no unembedding bias — GPT-2 has none) applied to a
 * residual-shaped activation [batch, pos, d_model], or a stack of them [components, batch, pos,
 * d_model] such as `accumulatedResidual(...).values`. Labels name the positions ("pos 12").
 */
export function logitLens(model: ModelLike, activation: Tensor, options: LogitLensOptions): LogitLensResult {
  const gpt2 = resolveModel(model);
  const { dModel: d } = gpt2.config;
  const purpose = "logitLens";
  if ((activation.rank !== 3 && activation.rank !== 4) || activation.shape[activation.rank - 1] !== d) {
    throw new PatchingError(
      "shape_mismatch",
      `${purpose}: activation of shape ${shapeToString(activation.shape)} is not [batch, pos, ${d}] or [components, batch, pos, ${d}]`,
    );
  }
  const [batch, length] = activation.shape.slice(-3) as [number, number];
  const positions = options.positions ? [...options.positions] : Array.from({ length }, (_, p) => p);
  positions.forEach((p) => checkPosition(p, length, purpose));
  const tokens = options.tokens === undefined ? null : checkTokens(gpt2.config, options.tokens, purpose);
  const x = takeAxis(activation, activation.rank - 2, positions);

  let scale: Tensor | undefined;
  if (options.ln === "recompute") scale = undefined;
  else if (options.ln === "frozen") {
    if (!options.cache) {
      throw new PatchingError("bad_options", `${purpose}: ln "frozen" divides by the clean run's ln_final.hook_scale; pass its cache`);
    }
    requireCached(options.cache, ["ln_final.hook_scale"], `${purpose} with ln "frozen"`);
    const cached = options.cache.get("ln_final.hook_scale");
    if (cached.shape[0] !== batch || cached.shape[1] !== length) {
      throw new PatchingError(
        "shape_mismatch",
        `${purpose}: the cached ln_final.hook_scale is ${shapeToString(cached.shape)} but the activation is [${batch}, ${length}, …]`,
      );
    }
    const selected = takeAxis(cached, 1, positions).data;
    const groups = x.size / (batch * positions.length * d);
    const repeated = new Float32Array(selected.length * groups);
    for (let g = 0; g < groups; g++) repeated.set(selected, g * selected.length);
    scale = new Tensor(repeated, [...x.shape.slice(0, -1), 1]);
  } else {
    throw new PatchingError("bad_options", `${purpose}: ln must be "recompute" or "frozen", got ${JSON.stringify(options.ln)}`);
  }
  const ln = scale === undefined ? {} : { frozenScale: scale };
  const values = tokens === null ? unembed(gpt2, x, ln) : unembedTokens(gpt2, x, tokens, ln);
  const axes = activation.rank === 4 ? ["component", "batch", "pos", "token"] : ["batch", "pos", "token"];
  return { values, axes, labelAxis: "pos", labels: positions.map((p) => `pos ${p}`), positions, tokens };
}
