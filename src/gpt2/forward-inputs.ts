import { InputError } from "../errors.ts";
import { sameShape, shapeSize, shapeToString, Tensor } from "../tensor/tensor.ts";
import type { Gpt2Config } from "./config.ts";
import type { ForwardOptions, PastKeysValues } from "./forward.ts";
import type { TokenBatch } from "./tokens.ts";

/** Sizes of a forward pass, known once its inputs are checked. */
export interface ForwardSizes {
  readonly batch: number;
  /** Positions computed by this pass (the tokens', or the start residual's). */
  readonly pos: number;
  /** Positions before them, from `past` (0 without). */
  readonly pastPos: number;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? `an object (${value.constructor?.name ?? "no class"})` : `${typeof value} ${String(value)}`;
}

/**
 * Checks a pass's `start`: layer an integer in 0…n_layers (n_layers: straight to ln_final), residual
 * a Tensor [batch ≥ 1, 1 ≤ pos ≤ n_ctx, d_model].
 */
export function checkStart(config: Gpt2Config, start: ForwardOptions["start"]): void {
  if (start === undefined || start === null) return;
  if (typeof start !== "object" || start === null) {
    throw new InputError(`start must be { layer, residual }, got ${describe(start)}`, "bad_start");
  }
  const { layer, residual } = start;
  if (typeof layer !== "number" || !Number.isInteger(layer) || layer < 0 || layer > config.nLayers) {
    throw new InputError(`start.layer must be an integer in 0…${config.nLayers}, got ${typeof layer === "number" ? layer : describe(layer)}`, "bad_layer");
  }
  if (!(residual instanceof Tensor)) {
    throw new InputError(`start.residual must be a Tensor [batch, pos, ${config.dModel}], got ${describe(residual)}`, "bad_start");
  }
  const { shape } = residual;
  if (shape.length !== 3 || shape[2] !== config.dModel || residual.data.length !== shapeSize(shape)) {
    throw new InputError(`start.residual has shape ${shapeToString(shape)} (${residual.data.length} values), expected [batch, pos, ${config.dModel}]`, "shape_mismatch");
  }
  if (shape[0] === 0 || shape[1] === 0) {
    throw new InputError(`start.residual has shape ${shapeToString(shape)}: no prompts or no positions`, "empty_prompt");
  }
  if (shape[1]! > config.nCtx) {
    throw new InputError(`start.residual has ${shape[1]} positions, more than the model's context of ${config.nCtx}`, "prompt_too_long");
  }
}

function checkPast(config: Gpt2Config, past: PastKeysValues, batch: number, pos: number): number {
  const { nLayers, nHeads, dHead, nCtx } = config;
  if (past.keys?.length !== nLayers || past.values?.length !== nLayers) {
    throw new InputError(`past keys and values must hold one tensor per layer (${nLayers}), got ${past.keys?.length} and ${past.values?.length}`, "bad_past");
  }
  const first = past.keys[0];
  const pastPos = first instanceof Tensor ? (first.shape[1] ?? 0) : 0;
  const expected = [batch, pastPos, nHeads, dHead];
  for (const [what, list] of [["keys", past.keys], ["values", past.values]] as const) {
    list.forEach((t, layer) => {
      if (!(t instanceof Tensor)) throw new InputError(`past ${what} of layer ${layer} is ${describe(t)}, not a Tensor`, "bad_past");
      if (!sameShape(t.shape, expected)) {
        throw new InputError(`past ${what} of layer ${layer} have shape ${shapeToString(t.shape)}, expected ${shapeToString(expected)}`, "bad_past");
      }
    });
  }
  if (pastPos + pos > nCtx) {
    throw new InputError(`${pastPos} past positions plus ${pos} new ones exceed the model's context of ${nCtx}`, "prompt_too_long");
  }
  return pastPos;
}

/** logitPositions index this pass's positions; they may repeat (the logits' rows follow the list). */
function checkLogitPositions(positions: unknown, pos: number): void {
  if (!Array.isArray(positions)) {
    throw new InputError(`logitPositions must be an array of positions, got ${describe(positions)}`, "bad_position");
  }
  positions.forEach((p: unknown, i) => {
    if (typeof p !== "number" || !Number.isInteger(p) || p < 0 || p >= pos) {
      const value = typeof p === "number" ? String(p) : describe(p);
      throw new InputError(`logitPositions[${i}] is ${value}, not one of the run's positions 0…${pos - 1}`, "bad_position");
    }
  });
}

/** An attention mask is [batch, pastPos + pos] of 0 (pad) and 1 (real token). */
function checkAttentionMask(mask: unknown, batch: number, pastPos: number, pos: number): void {
  const keys = pastPos + pos;
  if (!(mask instanceof Tensor)) {
    throw new InputError(`attentionMask must be a Tensor [batch, positions] of 0 and 1, got ${describe(mask)}`, "bad_mask");
  }
  if (!sameShape(mask.shape, [batch, keys])) {
    const what = pastPos > 0 ? ` (${pastPos} past positions, then ${pos} new ones)` : "";
    throw new InputError(`attentionMask has shape ${shapeToString(mask.shape)}, expected [${batch}, ${keys}]${what}`, "bad_mask");
  }
  const i = mask.data.findIndex((v) => v !== 0 && v !== 1);
  if (i >= 0) {
    throw new InputError(`attentionMask holds ${mask.data[i]} at [${Math.floor(i / keys)}, ${i % keys}]; only 0 (pad) and 1 (token) are allowed`, "bad_mask");
  }
}

/** Checks everything a forward pass is given before it does any work; returns its sizes. */
export function checkForwardInputs(config: Gpt2Config, tokens: TokenBatch | null, options: ForwardOptions): ForwardSizes {
  checkStart(config, options.start);
  const residual = options.start?.residual;
  if (!residual && !tokens) throw new InputError("a forward pass from the embedding needs tokens", "bad_input");
  const batch = residual ? residual.shape[0]! : tokens!.batch;
  const pos = residual ? residual.shape[1]! : tokens!.pos;
  const pastPos = options.past ? checkPast(config, options.past, batch, pos) : 0;
  if (options.logitPositions !== undefined) checkLogitPositions(options.logitPositions, pos);
  if (options.attentionMask !== undefined) checkAttentionMask(options.attentionMask, batch, pastPos, pos);
  return { batch, pos, pastPos };
}
