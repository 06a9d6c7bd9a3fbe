/**
 * Attribution tools in the style of TransformerLens: direct logit attribution (per head, MLP and
 * neuron), the logit lens, neuron-level direct-path patching and neuron ranking, and the
 * accumulated / decomposed residual stream.
 */
export {
  type AttributionResult,
  type ModelLike,
  type TokenIds,
  unembedDirection,
  unembedDirections,
} from "./attribution-common.ts";
export {
  applyLnToStack,
  type DlaOptions,
  headDla,
  logitAttrs,
  mlpDla,
  neuronDla,
  neuronTokenWeights,
  type StackLnOptions,
} from "./direct-logit-attribution.ts";
export { type LnMode, logitLens, type LogitLensOptions, type LogitLensResult } from "./logit-lens.ts";
export {
  neuronDirectPathPatching,
  type NeuronPatchingOptions,
  type NeuronPatchingResult,
  type NeuronRanking,
  type PromptMetric,
  rankNeurons,
  type ScoredNeuron,
  topNeurons,
} from "./neuron-attribution.ts";
export {
  accumulatedResidual,
  type AccumulatedResidualOptions,
  type ConfigLike,
  decomposedResidual,
  type ResidualOptions,
} from "./residual-decomposition.ts";
export { cumulativeNeuronPatching, type CumulativeNeuronPatchingResult } from "./neuron-cumulative.ts";
