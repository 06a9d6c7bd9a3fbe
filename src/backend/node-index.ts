/** The Node/Deno-only part of the backend API: worker-pool backends and the selector that may start one. */
export { selectNodeBackend, selectNodeBackendFromEnv } from "./node-select.ts";
export { createParallelWasmBackend, type ParallelWasmBackend } from "./wasm/threads/node-parallel-backend.ts";
