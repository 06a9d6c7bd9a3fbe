/** MatmulBackend.release frees a prepared weight of the WebAssembly backends; reuse is a typed error. */
import { afterAll, describe, expect, it } from "vitest";
import { Gpt2LensError } from "../../src/errors.ts";
import { createWasmBackend } from "../../src/backend/wasm/wasm-backend.ts";
import type { MatmulBackend } from "../../src/backend/backend.ts";
import { createParallelWasmBackend } from "../../src/backend/wasm/threads/node-parallel-backend.ts";

const pool = createParallelWasmBackend({ threads: 2 })!;
afterAll(() => pool.close());

describe.each([["wasm", createWasmBackend()!], ["pool", pool]] as [string, MatmulBackend][])("%s backend release", (_, backend) => {
  it("frees the packed copy; using or releasing it again fails with a typed error", () => {
    const w = backend.prepare(Float32Array.from({ length: 12 }, (_, i) => i), 3, 4);
    const out = new Float32Array(4);
    backend.matmul(Float32Array.from([1, 0, 0]), 1, w, out, null);
    expect(Array.from(out)).toEqual([0, 1, 2, 3]);
    backend.release!(w);
    expect(() => backend.matmul(Float32Array.from([1, 0, 0]), 1, w, out, null)).toThrow(Gpt2LensError);
    expect(() => backend.release!(w)).toThrow(Gpt2LensError);
  });
});
