/**
 * The model's maths as plain functions over one layer's weights, named as TransformerLens names
 * the pieces. The forward pass composes them for all positions at once; path patching,
 * attribution and the tasks compose them for the rows they recompute.
 */
export * from "./embed.ts";
export * from "./layer-norm.ts";
export * from "./attention.ts";
export * from "./attention-mask.ts";
export * from "./attention-block.ts";
export * from "./attention-head.ts";
export { headWeights, type HeadWeights } from "./head-weights.ts";
export * from "./mlp.ts";
export * from "./unembed.ts";
export * from "./head-delta-unembed.ts";
