import { describe, expect, it } from "vitest";
import { forwardGemmFlops, measureWasmPeak } from "../../bench/wasm-peak.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { selectNodeBackend } from "../../src/backend/node-select.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import type { MatmulBackend } from "../../src/backend/backend.ts";
import { wasmRelaxedSimdSupported } from "../../src/backend/wasm/simd-support.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

describe("bench/wasm-peak.ts", () => {
  it("forwardGemmFlops equals the FLOPs of the matmuls a real forward runs", async () => {
    for (const choice of ["reference", "wasm"] as const) {
      const gpt2 = await loadGpt2FromDir(TINY_DIR, selectNodeBackend(choice));
      const model = new HookedGpt2(gpt2);
      const counted = gpt2.backend;
      const original = counted.matmul;
      let flops = 0;
      (counted as { matmul: MatmulBackend["matmul"] }).matmul = (a, m, w, out, bias, spare) => {
        flops += 2 * m * w.inDim * w.outDim;
        original.call(counted, a, m, w, out, bias, spare);
      };
      try {
        const [batch, seq] = [3, 7];
        const tokens = Array.from({ length: batch }, (_, b) => Array.from({ length: seq }, (_, t) => (b * 31 + t * 7) % gpt2.config.dVocab));
        model.run(tokens);
        expect(flops).toBe(forwardGemmFlops({ batch, seq }, gpt2.config));
      } finally {
        (counted as { matmul: MatmulBackend["matmul"] }).matmul = original;
      }
    }
  });

  it("the register-only loop runs and reports a positive rate, fused only where the engine has relaxed SIMD", () => {
    const plain = measureWasmPeak(false);
    expect(plain?.fused).toBe(false);
    expect(plain!.median).toBeGreaterThan(0);
    expect(plain!.best).toBeGreaterThanOrEqual(plain!.median);
    const fused = measureWasmPeak(true);
    expect(fused === null).toBe(!wasmRelaxedSimdSupported());
    if (fused) expect(fused.fused).toBe(true);
  });
});
