export type { Backend, BackendWorkspace, MatmulBackend, PreparedWeight } from "./backend.ts";
export { type BackendChoice, type BackendOptions, parseBackendChoice, parseFmaChoice } from "./choice.ts";
export { selectBackend } from "./select.ts";
export { referenceBackend } from "./reference/reference-backend.ts";
export { createWasmBackend } from "./wasm/wasm-backend.ts";
export { linear } from "./linear.ts";
export { logSumExpRows } from "./log-sum-exp.ts";
export { productLogSumExp, type ProductLogSumExp } from "./product-log-sum-exp.ts";
