/**
 * productLogSumExp in row blocks equals logSumExpRows and the picked columns of the whole product,
 * on the reference and the WebAssembly backends; bad input is a typed error.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { createWasmBackend } from "../../src/tensor/backends.ts";
import { logSumExpRows } from "../../src/tensor/log-sum-exp.ts";
import { type MatmulBackend, referenceBackend } from "../../src/tensor/matmul.ts";
import { productLogSumExp } from "../../src/tensor/product-log-sum-exp.ts";

const backends: [string, MatmulBackend][] = [["reference", referenceBackend], ["wasm", createWasmBackend()!]];

const cases = fc
  .tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 40 }))
  .chain(([m, k, n]) =>
    fc.record({
      m: fc.constant(m), k: fc.constant(k), n: fc.constant(n),
      a: fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: m * k, maxLength: m * k }),
      w: fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: k * n, maxLength: k * n }),
      pick: fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 5 }),
      blockRows: fc.integer({ min: 1, max: 10 }),
    }),
  );

describe.each(backends)("productLogSumExp on the %s backend", (_, backend) => {
  it("equals the log-sum-exp and picked columns of the whole product, whatever the row block", () => {
    fc.assert(
      fc.property(cases, ({ m, k, n, a, w, pick, blockRows }) => {
        const weight = backend.prepare(Float32Array.from(w), k, n);
        const product = new Float32Array(m * n);
        backend.matmul(Float32Array.from(a), m, weight, product, null);
        const result = productLogSumExp(backend, Float32Array.from(a), m, weight, pick, { blockBytes: blockRows * n * 4 });
        expect(Array.from(result.logSumExp)).toEqual(Array.from(logSumExpRows(product, n)));
        const expected = Array.from({ length: m * pick.length }, (_, i) => product[Math.floor(i / pick.length) * n + pick[i % pick.length]!]!);
        expect(Array.from(result.picked)).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });

  it("reduces the blocks as rewritten by `adjust` (each row's place in the product given)", () => {
    fc.assert(
      fc.property(cases, ({ m, k, n, a, w, pick, blockRows }) => {
        const weight = backend.prepare(Float32Array.from(w), k, n);
        const product = new Float32Array(m * n);
        backend.matmul(Float32Array.from(a), m, weight, product, null);
        const rewritten = product.map((v, i) => v * 0.5 + Math.floor(i / n) - (i % n));
        const adjust = (block: Float32Array, firstRow: number, rows: number) => {
          for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) block[r * n + j] = block[r * n + j]! * 0.5 + (firstRow + r) - j;
        };
        const result = productLogSumExp(backend, Float32Array.from(a), m, weight, pick, { blockBytes: blockRows * n * 4, adjust });
        expect(Array.from(result.logSumExp)).toEqual(Array.from(logSumExpRows(rewritten, n)));
        const expected = Array.from({ length: m * pick.length }, (_, i) => rewritten[Math.floor(i / pick.length) * n + pick[i % pick.length]!]!);
        expect(Array.from(result.picked)).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  });

  it("rejects a wrong-sized input and columns outside the product", () => {
    const weight = backend.prepare(new Float32Array(6), 2, 3);
    expect(() => productLogSumExp(backend, new Float32Array(5), 2, weight, [])).toThrow(InputError);
    expect(() => productLogSumExp(backend, new Float32Array(4), 2, weight, [3])).toThrow(/pick\[0\] = 3 is outside \[0, 3\)/);
    expect(productLogSumExp(backend, new Float32Array(0), 0, weight, [1]).logSumExp).toHaveLength(0);
  });
});
