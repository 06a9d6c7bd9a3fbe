/**
 * A forward pass keeps intermediates that no hook or cache holds in the backend's workspace, one
 * buffer per role, reused by every layer. A role given to a value that is still alive, or a
 * workspace buffer that escapes into a cache, would change results: these tests compare runs with a
 * workspace against the same backend without one, bit for bit.
 *
 * The "poisoned" workspace hands out plain arrays filled with NaN (reused like the real one), so it
 * runs on any backend and any read of a buffer before it is written shows up in the logits.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { Gpt2Model } from "../../src/gpt2/model.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { type HookName } from "../../src/gpt2/hook-names.ts";
import { type HookSpec, HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import type { BackendWorkspace, MatmulBackend } from "../../src/backend/backend.ts";
import { referenceBackend } from "../../src/backend/reference/reference-backend.ts";
import { createWasmBackend } from "../../src/backend/wasm/wasm-backend.ts";
import { createParallelWasmBackend } from "../../src/backend/wasm/threads/node-parallel-backend.ts";
import { firstBitDifference } from "../helpers/compare.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

interface CountingWorkspace extends BackendWorkspace {
  readonly allocs: number;
  readonly live: number;
}

function poisonedWorkspace(): CountingWorkspace {
  const live = new Set<Float32Array>();
  let allocs = 0;
  return {
    alloc(floats) {
      allocs++;
      const view = new Float32Array(floats).fill(NaN);
      live.add(view);
      return view;
    },
    release(view) {
      if (!live.delete(view)) throw new Error("released a buffer that is not live");
    },
    get allocs() {
      return allocs;
    },
    get live() {
      return live.size;
    },
  };
}

const plainModel = await loadGpt2FromDir(TINY_DIR, referenceBackend);
const plain = new HookedGpt2(plainModel);
const { config } = plain;
const NAMES = plain.hookNames;

function withWorkspace(backend: MatmulBackend, workspace: BackendWorkspace): HookedGpt2 {
  return new HookedGpt2(new Gpt2Model(plainModel.config, plainModel.weights, { ...backend, workspace }));
}

const prompts = fc
  .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 12 }))
  .chain(([batch, pos]) =>
    fc.array(fc.array(fc.integer({ min: 0, max: config.dVocab - 1 }), { minLength: pos, maxLength: pos }), { minLength: batch, maxLength: batch }),
  );

/** Bit-identical data (a failing toEqual on thousands of floats would take minutes to print). */
function expectSameBits(actual: { data: Float32Array }, expected: { data: Float32Array }, what = ""): void {
  expect(firstBitDifference(actual.data, expected.data), what).toBe(-1);
}

describe("forward pass with a workspace", () => {
  const workspace = poisonedWorkspace();
  const scratchModel = withWorkspace(referenceBackend, workspace);

  it("gives bit-identical logits and cached values whatever is cached", () => {
    fc.assert(
      fc.property(prompts, fc.subarray([...NAMES]), (tokens, cached) => {
        const expected = plain.run(tokens, { cache: cached as HookName[] });
        const actual = scratchModel.run(tokens, { cache: cached as HookName[] });
        expectSameBits(actual.logits, expected.logits);
        for (const name of cached) expectSameBits(actual.cache.get(name), expected.cache.get(name));
      }),
      { numRuns: 15 },
    );
    expect(workspace.allocs).toBeGreaterThan(0);
  });

  it("gives bit-identical values when any single activation is cached", () => {
    const tokens = [[5, 17, 300, 9, 1000], [7, 7, 7, 1, 2]];
    for (const name of NAMES) {
      const expected = plain.run(tokens, { cache: [name] });
      const actual = scratchModel.run(tokens, { cache: [name] });
      expectSameBits(actual.cache.get(name), expected.cache.get(name), name);
      expectSameBits(actual.logits, expected.logits, name);
    }
  });

  it("gives the same results with hooks that edit activations", () => {
    fc.assert(
      fc.property(prompts, fc.constantFrom(...NAMES.filter((n) => !n.endsWith("hook_result"))), (tokens, name) => {
        const hooks: HookSpec[] = [[name, (t) => void t.data.fill(0.5, 0, Math.min(7, t.data.length))]];
        expectSameBits(scratchModel.run(tokens, { hooks }).logits, plain.run(tokens, { hooks }).logits);
      }),
      { numRuns: 20 },
    );
  });

  it("lets a hook run the model inside a pass (the inner pass uses plain arrays)", () => {
    const tokens = [[5, 17, 300, 9], [7, 7, 1, 2]];
    let inner: Float32Array | undefined;
    const hooks: HookSpec[] = [["blocks.1.hook_resid_mid", () => void (inner = scratchModel.run(tokens).logits.data)]];
    const outer = scratchModel.run(tokens, { hooks });
    const expected = plain.run(tokens).logits;
    expectSameBits({ data: inner! }, expected);
    expectSameBits(outer.logits, expected);
  });

  it("frees the buffers for the next pass when a hook throws, and reuses them", () => {
    const tokens = [[5, 17, 300, 9]];
    scratchModel.run(tokens);
    const allocs = workspace.allocs;
    expect(() => scratchModel.run(tokens, { hooks: [["blocks.0.hook_mlp_out", () => { throw new Error("boom"); }]] })).toThrow("boom");
    expectSameBits(scratchModel.run(tokens).logits, plain.run(tokens).logits);
    expect(workspace.allocs).toBe(allocs);
    expect(workspace.live).toBeGreaterThan(0);
  });
});

describe("spare buffers lent to the unembedding", () => {
  it("are dead: a product that overwrites them leaves logits and cached values bit-identical", () => {
    let lent = 0;
    const overwriting: MatmulBackend = {
      ...referenceBackend,
      matmul(a, m, w, out, bias, spare) {
        for (const buffer of spare ?? []) {
          lent++;
          buffer.fill(Number.NaN);
        }
        referenceBackend.matmul(a, m, w, out, bias);
      },
    };
    const model = withWorkspace(overwriting, poisonedWorkspace());
    fc.assert(
      fc.property(prompts, fc.subarray([...NAMES]), fc.boolean(), (tokens, cached, lastOnly) => {
        const options = { cache: cached as HookName[], ...(lastOnly ? { logitPositions: [tokens[0]!.length - 1] } : {}) };
        const expected = plain.run(tokens, options);
        const actual = model.run(tokens, options);
        expectSameBits(actual.logits, expected.logits);
        for (const name of cached) expectSameBits(actual.cache.get(name), expected.cache.get(name), name);
      }),
      { numRuns: 15 },
    );
    expect(lent).toBeGreaterThan(0);
  });
});

describe("a workspace that runs out of room", () => {
  it("leaves the pass on plain arrays for the buffers it cannot give", () => {
    let calls = 0;
    const full: BackendWorkspace = {
      alloc(floats) {
        if (++calls % 2 === 0) throw new Error("out of memory");
        return new Float32Array(floats).fill(NaN);
      },
      release() {},
    };
    const model = withWorkspace(referenceBackend, full);
    const tokens = [[5, 17, 300, 9], [7, 7, 1, 2]];
    expectSameBits(model.run(tokens).logits, plain.run(tokens).logits);
    expect(calls).toBeGreaterThan(2);
  });
});

describe("the worker pool's workspace", () => {
  // minParallelRowWork 0: the gelu on the workspace's MLP buffer splits over the threads, however small.
  const backend = createParallelWasmBackend({ threads: 2, minParallelRowWork: 0 });
  afterAll(() => backend?.close());

  it.runIf(backend !== null)("runs the blocks' matmuls and gelu in place (no staging) with bit-identical results", async () => {
    const pooled = new HookedGpt2(await loadGpt2FromDir(TINY_DIR, backend!));
    const unstaged = new HookedGpt2(pooled.model.withBackend({ ...backend!, workspace: undefined }));
    const tokens = [[5, 17, 300, 9, 1000, 42], [7, 7, 7, 1, 2, 3]];
    const stop = "ln_final.hook_normalized";
    const before = backend!.pool.stagingBytes;
    const a = pooled.runUntil(tokens, stop, { cache: [stop] }).get(stop);
    expect(backend!.pool.stagingBytes).toBe(before);
    const b = unstaged.runUntil(tokens, stop, { cache: [stop] }).get(stop);
    expectSameBits(a, b);
    expectSameBits(pooled.run(tokens).logits, unstaged.run(tokens).logits);
  });

  const narrow = createParallelWasmBackend({ threads: 2, stagingBudgetBytes: 1 << 20 });
  afterAll(() => narrow?.close());

  it.runIf(backend !== null && narrow !== null)("unembeds logits larger than the staging budget in column strips, bit-identical", async () => {
    // 3×9 rows of 50257 logits (5.4 MB) in a 1 MiB budget: strips of all 27 rows, two at a time.
    const wide = new HookedGpt2(await loadGpt2FromDir(TINY_DIR, backend!));
    const strips = new HookedGpt2(wide.model.withBackend(narrow!));
    const tokens = [[5, 17, 300, 9, 1000, 42, 8, 8, 50256], [7, 7, 7, 1, 2, 3, 4, 5, 6], [9, 8, 7, 6, 5, 4, 3, 2, 1]];
    const expected = wide.run(tokens).logits;
    expectSameBits(strips.run(tokens).logits, expected);
    expect(narrow!.pool.stagingBytes).toBe(1 << 20);
    expectSameBits(strips.run(tokens, { cache: ["ln_final.hook_normalized"] }).logits, expected);
  });
});

describe("the single-threaded WebAssembly backend's workspace", () => {
  const backend = createWasmBackend();

  it.runIf(backend !== null)("lives in its shared memory and gives bit-identical results", async () => {
    expect(backend!.workspace).toBeDefined();
    expect(() => backend!.workspace!.release(new Float32Array(4))).toThrow(InputError);
    const view = backend!.workspace!.alloc(8);
    backend!.workspace!.release(view);
    expect(() => backend!.workspace!.release(view)).toThrow(/not a live buffer/);
    const wasm = new HookedGpt2(await loadGpt2FromDir(TINY_DIR, backend!));
    const unstaged = new HookedGpt2(wasm.model.withBackend({ ...backend!, workspace: undefined }));
    const tokens = [[5, 17, 300, 9, 1000, 42], [7, 7, 7, 1, 2, 3]];
    const names: HookName[] = ["blocks.0.attn.hook_pattern", "blocks.1.hook_resid_pre", "ln_final.hook_normalized"];
    const a = wasm.run(tokens, { cache: names });
    const b = unstaged.run(tokens, { cache: names });
    expectSameBits(a.logits, b.logits);
    for (const name of names) expectSameBits(a.cache.get(name), b.cache.get(name));
  });
});
