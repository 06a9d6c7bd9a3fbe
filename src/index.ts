/**
 * gpt2-lens: mechanistic interpretability of GPT-2 in TypeScript — TransformerLens hook points,
 * activation and path patching, attribution, and the greater-than circuit of Hanna et al. (2023).
 */
export { Gpt2LensError, InputError } from "./errors.ts";
export * from "./tensor/index.ts";
export * from "./backend/index.ts";

export { type Gpt2Config, ModelLoadError, parseHfConfig } from "./gpt2/config.ts";
export type { BlockWeights, Gpt2Weights } from "./gpt2/weights.ts";
export { Gpt2Model } from "./gpt2/model.ts";
export { ModelDisposedError } from "./gpt2/model-disposed.ts";
export { loadGpt2FromBytes, type Gpt2Sources, type LoadGpt2Options } from "./gpt2/load.ts";
export {
  NO_PROCESSING, processingLabel, processWeights, TRANSFORMER_LENS_PROCESSING, type WeightProcessing, type WeightProcessingSteps,
} from "./gpt2/process-weights.ts";
export { FactoredMatrix } from "./gpt2/factored-matrix.ts";
export { TlWeights, tlWeights } from "./gpt2/weight-views.ts";
export { loadGpt2FromDir, type LoadGpt2FromDirOptions } from "./gpt2/node-load.ts";
export { createParallelWasmBackend, type ParallelWasmBackend, selectNodeBackend } from "./backend/node-index.ts";
export { BUNDLED_MODEL_DIR } from "./gpt2/node-bundled-model.ts";
/** The model's components (LayerNorms, heads' q/k/v and outputs, attention of one row, MLP, unembedding) as plain functions. */
export * as components from "./gpt2/components/index.ts";
export { runForward, type ActivationVisitor, type ForwardOptions, type PastKeysValues } from "./gpt2/forward.ts";
export { normalizeTokens, type TokenBatch, type TokenInput } from "./gpt2/tokens.ts";
export { BOS_TOKEN_ID, decodeTokens, GPT2_VOCAB_SIZE, toStrTokens, toTokenBatch, toTokens } from "./gpt2/tokenizer.ts";

export {
  HookedGpt2, type CacheSelector, type HookContext, type HookFn, type HookSelector, type HookSpec, type RunOptions,
  type RunResult,
} from "./hooks/hooked-gpt2.ts";
export { type RunInput, type TokenizeInputOptions } from "./hooks/run-input.ts";
export { type GradientRunOptions, type GradientRunResult } from "./hooks/gradients.ts";
export * from "./gpt2/backward/logit-metrics.ts";
export * from "./gpt2/backward/input-gradients.ts";
export { runBackward, savedForBackward, type BackwardInputs, type GradientVisitor } from "./gpt2/backward.ts";
export { padTokenRows, type PaddedTokens, type PaddingOptions, type PaddingSide } from "./gpt2/padding.ts";
export { type GenerateOptions, type GenerateResult } from "./hooks/generate.ts";
export { loadHookedGpt2 } from "./hooks/node-load-hooked.ts";
export { ActivationCache } from "./hooks/activation-cache.ts";
export { HookError } from "./hooks/hook-error.ts";
export {
  ACT_SHORT_NAMES, actName, type ActNameInput, type ActShortName, BLOCK_HOOK_SUFFIXES, blockHook, type BlockHookName,
  type BlockHookSuffix, type HookName, hookNames, hookShape, isHookName, type LayerType, parseHookName,
} from "./gpt2/hook-names.ts";

export * from "./patching/activation-patching.ts";
export * from "./patching/attribution.ts";
export * from "./patching/attribution-patching.ts";
export { PatchingError } from "./patching/patching-error.ts";
export {
  allComponents, type Channel, type Component, componentLabel, componentName, isUpstream, type NodeAt, parseComponent,
} from "./patching/nodes.ts";
export {
  collectPathActivations, type CollectPathActivationsOptions, type HeadSuffix, neuronCache, PathActivations, pathActivationNames,
  type ResidualSuffix, sharedPrefixLength,
} from "./patching/path-activations.ts";
export { type PathGraph, patchedFinalResidual } from "./patching/path-engine.ts";
export * from "./patching/path-patching.ts";
export * from "./patching/circuit-evaluation.ts";
export { pathPatchRows, type RowSoftmaxMetric } from "./patching/path-patch-rows.ts";
export * from "./patching/eap-graph.ts";
export * from "./patching/eap-scores.ts";
export * from "./patching/eap-circuit.ts";
export { receiverInputGradients } from "./patching/eap-receiver-gradients.ts";

export { GREATER_THAN_NOUNS } from "./tasks/greater-than/nouns.ts";
export { validYears, yearTokenIds } from "./tasks/greater-than/years.ts";
export { GT_POSITIONS, makeGreaterThanDataset, type GreaterThanDataset } from "./tasks/greater-than/dataset.ts";
export { DatasetError, readGreaterThanDataset, type GreaterThanPrompts } from "./tasks/greater-than/dataset-file.ts";
export {
  cutoffSharpness, probabilityDifference, yearProbabilities, yearProbabilitiesFromLogSumExp,
} from "./tasks/greater-than/metrics.ts";
export {
  cutoffSharpnessMetric, endYearProbabilities, probabilityDifferenceGradientMetric, probabilityDifferenceMetric,
  probabilityDifferenceSoftmaxMetric,
} from "./tasks/greater-than/pd-metric.ts";
export {
  type GreaterThanCircuitReport, type GreaterThanReport, reportHasCircuit, runGreaterThanPipeline,
} from "./tasks/greater-than/pipeline.ts";
export type { GreaterThanReportFile, GreaterThanRunRecord, StageTiming } from "./tasks/greater-than/run-record.ts";
export { greaterThanMemoryBytes } from "./tasks/greater-than/memory.ts";
// Controls and statistics (issue 16 §2).
export {
  type BootstrapOptions, type MeanSummary, quantileSorted, sampleSd, summarizeMean, summarizeRatioOfMeans,
} from "./tasks/statistics.ts";
export { greaterThanTaskCheck, type TaskCheck } from "./tasks/greater-than/task-check.ts";
export {
  type StreamedBaseline, streamBaselineMetrics, type StreamedBaselineOptions, unbalancedPromptStream, unbalancedStartYears,
} from "./tasks/greater-than/baseline-stream.ts";
export { type RandomCircuitControl, randomCircuitControl, type RandomCircuitOptions } from "./tasks/greater-than/random-circuits.ts";
export { selectionCellStatistics, type SelectionCellStatistics, type SelectionSweep } from "./tasks/greater-than/selection-cells.ts";
export {
  type GreaterThanControlOptions, type GreaterThanControlsReport, paperCircuitStatistics, type ProbabilitySlice, probabilitySlice,
  type ReportStatistics,
} from "./tasks/greater-than/controls.ts";
export { probabilityDifferenceRowMetric } from "./tasks/greater-than/pd-metric.ts";
// What each circuit component does (issue 15 §§3–6).
export {
  type AttentionPatterns, type AttentionToYyByYy, attentionToYyByYy, GT_POSITION_LABELS, type HeadAttentionPattern, meanAttentionPatterns,
} from "./tasks/greater-than/attention-analysis.ts";
export { type HeadLogitLens, headLogitLens } from "./tasks/greater-than/head-logit-lens.ts";
export { type PcaPanel, type YearPca, yearPca, type YearPcaOptions, yearPcaPrompts } from "./tasks/greater-than/year-pca.ts";
export { type NeuronAnalysis, neuronAnalysis, type NeuronAnalysisOptions, type NeuronHeatmap } from "./tasks/greater-than/neuron-analysis.ts";
export {
  type ComponentAnalysesInput, type ComponentAnalysesReport, controlHead, mostImportantMlp, runComponentAnalyses,
} from "./tasks/greater-than/component-analyses.ts";

export * from "./viz/index.ts";
export { greaterThanFigures, greaterThanReportHtml, greaterThanSections } from "./viz/greater-than-figures.ts";
export { greaterThanCircuitDiagram } from "./viz/greater-than-circuit-diagram.ts";
export { attentionViewer, type AttentionViewer, type AttentionViewerOptions } from "./viz/attention-viewer.ts";
export { ATTENTION_DECIMALS, attentionViewerData, type AttentionViewerData } from "./viz/attention-viewer-data.ts";
export { attentionViewerHtml } from "./viz/attention-viewer-html.ts";

export * from "./tasks/related/index.ts";
export { relatedFigures, relatedReportHtml } from "./viz/related-figures.ts";
export { componentFigures, componentTables } from "./viz/component-figures.ts";
export {
  type AttributionComparison, type AttributionComparisonOptions, compareAttributionToActivationPatching, pearsonCorrelation,
} from "./viz/attribution-comparison.ts";
