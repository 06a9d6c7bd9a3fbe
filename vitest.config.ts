import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Node 20 has relaxed SIMD behind a flag (the library sets it itself in selectNodeBackend); on
    // from the start, every test file sees the default fused-multiply-add GEMM whatever runs first.
    execArgv: ["--experimental-wasm-relaxed-simd"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
