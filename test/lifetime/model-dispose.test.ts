/**
 * Gpt2Model / HookedGpt2 dispose(): every prepared weight goes back to the backend's allocator (its
 * own accounting, WasmGemm.bytesInUse), the memory stops growing after the first cycle, and a
 * disposed model refuses every use with `disposed`.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Gpt2LensError } from "../../src/errors.ts";
import { loadHookedGpt2 } from "../../src/hooks/node-load-hooked.ts";
import { createWasmBackend } from "../../src/backend/wasm/wasm-backend.ts";
import type { MatmulBackend } from "../../src/backend/backend.ts";
import { createParallelWasmBackend } from "../../src/backend/wasm/threads/node-parallel-backend.ts";
import type { WasmGemm } from "../../src/backend/wasm/gemm/wasm-gemm.ts";
import { referenceBackend } from "../../src/backend/reference/reference-backend.ts";
import { BUNDLED_MODEL_DIR, TINY_DIR } from "../helpers/fixtures.ts";

const TOKENS = [[50256, 383, 1175, 15436, 422, 262, 614, 1596, 2624, 284, 262, 614, 1596]];
const TIMEOUT = { timeout: 120_000 };

const pool = createParallelWasmBackend({ threads: 2 })!;
afterAll(() => pool.close());

/** The allocator behind a WebAssembly backend: the pool's, or the single-threaded one's (found through a packed weight). */
function allocatorOf(backend: MatmulBackend): Pick<WasmGemm, "bytesInUse" | "memory"> {
  if (backend === pool) return pool.pool.gemm;
  const probe = backend.prepare(new Float32Array(4), 2, 2) as unknown as { packed: { buffer: { owner: Pick<WasmGemm, "bytesInUse" | "memory"> } } };
  const gemm = probe.packed.buffer.owner;
  backend.release!(probe as never);
  return gemm;
}

function expectDisposed(action: () => unknown): void {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(Gpt2LensError);
  expect((thrown as Gpt2LensError).code).toBe("disposed");
  expect((thrown as Error).message).toMatch(/disposed/);
}

describe.each([
  ["pool", () => pool as MatmulBackend],
  ["wasm", () => createWasmBackend()!],
])("load/dispose cycles of the bundled model on the %s backend", (_, makeBackend) => {
  const backend = makeBackend();
  const gemm = allocatorOf(backend);

  it("return every packed weight: in-use bytes back to the level before the first load, memory flat", TIMEOUT, async () => {
    const before = gemm.bytesInUse;
    let memoryAfterFirst = 0;
    for (let cycle = 0; cycle < 6; cycle++) {
      const model = await loadHookedGpt2(BUNDLED_MODEL_DIR, backend);
      expect(gemm.bytesInUse).toBeGreaterThan(before);
      model.dispose();
      expect(gemm.bytesInUse).toBe(before);
      if (cycle === 0) memoryAfterFirst = gemm.memory.buffer.byteLength;
      expect(gemm.memory.buffer.byteLength).toBe(memoryAfterFirst);
    }
  });

  it("with runs and the lazily prepared per-head W_O copies: flat after the first cycle", TIMEOUT, async () => {
    let inUseAfterFirst = 0;
    let memoryAfterFirst = 0;
    for (let cycle = 0; cycle < 4; cycle++) {
      const model = await loadHookedGpt2(BUNDLED_MODEL_DIR, backend);
      const counted = model.model.ownedWeightCount;
      // hook_result prepares each layer's per-head W_O copies on first use; they are the model's too.
      const { cache } = model.run(TOKENS, { cache: ["blocks.0.attn.hook_result", "blocks.3.attn.hook_result"] });
      expect(cache.get("blocks.0.attn.hook_result").shape).toEqual([1, 13, model.config.nHeads, model.config.dModel]);
      expect(model.model.ownedWeightCount).toBe(counted + 2 * model.config.nHeads);
      model.dispose();
      expect(model.model.ownedWeightCount).toBe(0);
      if (cycle === 0) {
        inUseAfterFirst = gemm.bytesInUse;
        memoryAfterFirst = gemm.memory.buffer.byteLength;
      }
      // What stays is the backend's own reusable staging and scratch, not the model's weights.
      expect(gemm.bytesInUse).toBe(inUseAfterFirst);
      expect(gemm.memory.buffer.byteLength).toBe(memoryAfterFirst);
    }
  });
});

describe("a disposed model", () => {
  it("throws `disposed` on every use; dispose is idempotent", TIMEOUT, async () => {
    const hooked = await loadHookedGpt2(TINY_DIR, pool);
    const model = hooked.model;
    const other = model.withBackend(referenceBackend);
    hooked.dispose();
    hooked.dispose();
    model.dispose();
    expect(hooked.disposed).toBe(true);
    expectDisposed(() => hooked.run([[1, 2, 3]]));
    expectDisposed(() => hooked.runUntil([[1, 2, 3]], "blocks.0.hook_resid_pre"));
    expectDisposed(() => model.embedTokens([1], [1]));
    expectDisposed(() => model.withBackend(referenceBackend));
    expectDisposed(() => model.prepared);
    expectDisposed(() => model.weights);
    expectDisposed(() => model.prepareOwned(new Float32Array(4), 2, 2));
    // A model made with withBackend lives on.
    expect(other.disposed).toBe(false);
    expect(other.embedTokens([1], [1]).shape).toEqual([1, other.config.dModel]);
  });

  it("releases weights registered with track / prepareOwned (e.g. a per-model cache)", TIMEOUT, async () => {
    const gemm = pool.pool.gemm;
    const hooked = await loadHookedGpt2(TINY_DIR, pool);
    const before = gemm.bytesInUse;
    const extra = hooked.model.prepareOwned(new Float32Array(64 * 64), 64, 64);
    hooked.model.track(pool.prepare(new Float32Array(32 * 16), 32, 16));
    expect(gemm.bytesInUse).toBeGreaterThan(before);
    hooked.model.releaseOwned(extra);
    expect(() => hooked.model.releaseOwned(extra)).toThrow(Gpt2LensError);
    const withTracked = gemm.bytesInUse;
    hooked.dispose();
    expect(gemm.bytesInUse).toBeLessThan(withTracked);
    expect(gemm.bytesInUse).toBeLessThan(before);
  });

  it("works with `using` and `await using`", TIMEOUT, async () => {
    let escaped: { disposed: boolean } | undefined;
    {
      using model = await loadHookedGpt2(TINY_DIR, pool);
      escaped = model;
      expect(model.run([[1, 2]]).logits.shape).toEqual([1, 2, model.config.dVocab]);
    }
    expect(escaped.disposed).toBe(true);
    {
      await using model = await loadHookedGpt2(TINY_DIR, pool);
      escaped = model;
    }
    expect(escaped.disposed).toBe(true);
  });
});
