/** Closing the shared worker-pool backend is scoped: later selections and loads get a working one. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Gpt2LensError } from "../../src/errors.ts";
import { selectNodeBackend } from "../../src/backend/node-select.ts";
import { loadHookedGpt2 } from "../../src/hooks/node-load-hooked.ts";
import type { ParallelWasmBackend } from "../../src/backend/wasm/threads/node-parallel-backend.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

afterEach(() => void vi.unstubAllEnvs());

describe("closing the process-wide pool backend", () => {
  it("does not poison later loadHookedGpt2 calls: a new load gets a new, working backend", { timeout: 60_000 }, async () => {
    vi.stubEnv("GPT2_LENS_BACKEND", "wasm-threads");
    const first = await loadHookedGpt2(TINY_DIR);
    const backend = first.model.backend as ParallelWasmBackend;
    expect(backend.name).toMatch(/×/);
    expect(selectNodeBackend("wasm-threads")).toBe(backend); // shared while open
    const want = first.run([[1, 2, 3]]).logits;
    await backend.close();
    expect(backend.closed).toBe(true);
    // Its own models are done for, with a typed error that says what to do.
    const thrown = (() => {
      try {
        first.run([[1, 2, 3]]);
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(Gpt2LensError);
    expect((thrown as Gpt2LensError).code).toBe("pool_closed");
    expect((thrown as Error).message).toMatch(/loaded again/);

    const second = await loadHookedGpt2(TINY_DIR);
    expect(second.model.backend).not.toBe(backend);
    expect((second.model.backend as ParallelWasmBackend).closed).toBe(false);
    expect(Array.from(second.run([[1, 2, 3]]).logits.data)).toEqual(Array.from(want.data));
    expect(selectNodeBackend("wasm-threads")).toBe(second.model.backend);
    second.dispose();
  });
});
