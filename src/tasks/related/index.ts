export { PRICE_ITEMS, RELATED_FAMILIES, type RelatedFamily, type YearMask } from "./families.ts";
export { checkRelatedFamily, parseRelatedFamilies } from "./family-check.ts";
export { renderTemplate, smallestNonDivisor, type RenderedTemplate, type TemplateVariables } from "./template.ts";
export { buildPrompt, type ExclusionReason, type FamilyPrompts, makeFamilyPrompts, type RelatedPrompt } from "./prompts.ts";
export {
  isCorrectYear, maskedCutoffSharpness, maskedPdMetric, maskedPdSoftmaxMetric, maskedProbabilityDifference,
} from "./masked-metrics.ts";
export { type CircuitMember, circuitNodes, circuitSpecText, greaterThanCircuitMembers, parseCircuitSpec } from "./circuit-spec.ts";
export {
  CIRCUIT_RECOVERS_AT_LEAST, evaluateFamily, groupPrompts, MODEL_DOES_TASK_MARGIN, type RelatedFamilyResult,
} from "./evaluate-family.ts";
export { type RelatedProgress, type RelatedTasksOptions, type RelatedTasksReport, runRelatedTasks } from "./run-related.ts";
