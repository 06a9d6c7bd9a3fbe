/**
 * For users' own property tests: fast-check arbitraries for prompts, hook names, components and
 * patch specs, and the invariant checks this project runs on its hooks.
 */
export {
  componentArbitrary, hookNameArbitrary, nodeArbitrary, patchSpecArbitrary, type PromptArbitraryOptions,
  tokenBatchArbitrary,
} from "./arbitraries.ts";
export {
  checkHookInvariants, headResultViolations, hookOrderViolations, identityHookViolations, patternViolations,
  residualViolations, type Violation,
} from "./invariants.ts";
