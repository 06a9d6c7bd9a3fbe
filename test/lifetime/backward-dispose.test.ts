/**
 * The backward's packed Wᵀ copies belong to the model: prepared on the first gradient run (once),
 * counted by ownedWeightCount, released by dispose() back to the backend's allocator (flat over
 * load / gradient run / dispose cycles), and a disposed model refuses runWithGradients.
 */
import { describe, expect, it } from "vitest";
import { Gpt2LensError } from "../../src/errors.ts";
import { probabilityMassDifferenceMetric } from "../../src/gpt2/backward/logit-metrics.ts";
import { transposedWeightFloats } from "../../src/gpt2/backward/transposed-weights.ts";
import { loadHookedGpt2 } from "../../src/hooks/node-load-hooked.ts";
import { createWasmBackend } from "../../src/tensor/backends.ts";
import type { WasmGemm } from "../../src/tensor/wasm/wasm-gemm.ts";
import { BUNDLED_MODEL_DIR } from "../helpers/fixtures.ts";
import { thrownBy } from "../helpers/thrown.ts";

const TOKENS = [[50256, 383, 1175, 15436, 422, 262, 614, 1596, 2624, 284, 262, 614, 1596]];
const metric = probabilityMassDifferenceMetric([1, 2, 3], [1, -1, 1]);

describe("the backward's transposed weights", () => {
  it("are prepared once, owned by the model and released by dispose", { timeout: 120_000 }, async () => {
    const backend = createWasmBackend()!;
    const probe = backend.prepare(new Float32Array(4), 2, 2) as unknown as { packed: { buffer: { owner: WasmGemm } } };
    const gemm = probe.packed.buffer.owner;
    backend.release!(probe as never);
    let inUseAfterFirst = 0;
    for (let cycle = 0; cycle < 3; cycle++) {
      const model = await loadHookedGpt2(BUNDLED_MODEL_DIR, backend);
      const counted = model.model.ownedWeightCount;
      model.runWithGradients(TOKENS, { metric });
      const { nLayers, dModel, dMlp, dVocab } = model.config;
      // c_attn, c_proj, c_fc, mlp c_proj per block, and the unembedding.
      expect(model.model.ownedWeightCount).toBe(counted + 4 * nLayers + 1);
      expect(transposedWeightFloats(model.model)).toBe(nLayers * (3 * dModel * dModel + dModel * dModel + 2 * dModel * dMlp) + dVocab * dModel);
      model.runWithGradients(TOKENS, { metric });
      expect(model.model.ownedWeightCount).toBe(counted + 4 * nLayers + 1);
      model.dispose();
      expect(model.model.ownedWeightCount).toBe(0);
      thrownBy(() => model.runWithGradients(TOKENS, { metric }), Gpt2LensError, "disposed");
      if (cycle === 0) inUseAfterFirst = gemm.bytesInUse;
      expect(gemm.bytesInUse).toBe(inUseAfterFirst);
    }
  });
});
