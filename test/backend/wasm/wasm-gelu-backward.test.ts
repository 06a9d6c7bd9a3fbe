/**
 * The backward of gelu_new: the WebAssembly SIMD kernel (own memory, workspace memory, worker pool)
 * against the float64 plain-TypeScript reference (within 1e-5 relative + 1e-30 absolute, fast-check
 * over lengths and values incl. the clamped tails), the pool bit-identical to the single-threaded
 * kernel; the reference against a central difference of an independent float64 gelu_new.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { Gpt2LensError } from "../../../src/errors.ts";
import { referenceGeluNewBackward } from "../../../src/backend/reference/gelu-backward.ts";
import { createWasmGeluBackward, type WasmGeluBackward } from "../../../src/backend/wasm/wasm-gelu-backward.ts";
import { WasmThreadPool } from "../../../src/backend/wasm/threads/node-wasm-thread-pool.ts";
import { createPoolGeluBackward } from "../../../src/backend/wasm/threads/pool-gelu-backward.ts";
import { firstBitDifference } from "../../helpers/compare.ts";
import { gemmWorkspace } from "../../helpers/kernel-workspace.ts";
import { propertyParams } from "../../helpers/property.ts";

const ws = gemmWorkspace();

const pool = WasmThreadPool.create({ threads: 2, minParallelRowWork: 0 })!;
afterAll(() => pool.close());

const gelu64 = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

function expectClose(got: Float32Array, want: Float32Array, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const tol = 1e-5 * Math.abs(want[i]!) + 1e-30;
    if (!(Math.abs(got[i]! - want[i]!) <= tol)) expect.fail(`${what}[${i}] = ${got[i]}, reference ${want[i]}`);
  }
}

const values = fc.oneof(fc.float({ min: -12, max: 12, noNaN: true }), fc.float({ min: -3, max: 3, noNaN: true }), fc.constantFrom(0, -0, 9, -9.9, 9.01, -10, 1e6, -1e6));
const cases = fc.record({
  pre: fc.array(values, { maxLength: 300 }),
  grads: fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: 1, maxLength: 7 }),
});

describe("referenceGeluNewBackward", () => {
  it("is the derivative of gelu_new (central differences in float64)", () => {
    for (const x of [-8, -3, -1.3, -0.2, 0, 0.05, 0.7, 2.5, 6]) {
      const out = new Float32Array(1);
      referenceGeluNewBackward(Float32Array.of(x), Float32Array.of(2), out);
      const h = 1e-5;
      expect(out[0]).toBeCloseTo((2 * (gelu64(x + h) - gelu64(x - h))) / (2 * h), 5);
    }
  });
});

describe.each([
  ["its own memory", createWasmGeluBackward()!, false],
  ["the workspace's memory", createWasmGeluBackward(ws)!, true],
] as [string, WasmGeluBackward, boolean][])("wasm geluNewBackward on %s", (_, kernel, inWorkspace) => {
  const place = (v: Float32Array): Float32Array => {
    if (!inWorkspace || v.length === 0) return v;
    const out = ws.alloc(v.length);
    out.set(v);
    return out;
  };

  it("rejects arrays of different lengths with a typed error", () => {
    expect(() => kernel(new Float32Array(4), new Float32Array(3), new Float32Array(4))).toThrow(Gpt2LensError);
  });

  it("matches the float64 reference, also in place", () => {
    fc.assert(fc.property(cases, ({ pre, grads }) => {
      const x = Float32Array.from(pre);
      const g = Float32Array.from(pre, (_, i) => grads[i % grads.length]!);
      const want = new Float32Array(x.length);
      referenceGeluNewBackward(x, g, want);
      const out = place(new Float32Array(x.length));
      kernel(place(x), place(g), out);
      expectClose(out, want, "out");
      const inPlace = place(g.slice());
      kernel(place(x), inPlace, inPlace);
      expectClose(inPlace, want, "in place");
    }), propertyParams(`geluNewBackward ${_}`, 100));
  });
});

describe("pool geluNewBackward", () => {
  const single = createWasmGeluBackward()!;
  const onPool = createPoolGeluBackward(pool, (pre, dPost, out) => single(pre, dPost, out));
  it("equals the single-threaded kernel bit for bit on views of the pool's memory", () => {
    expect(pool.waitUntilReady(60_000)).toBe(true);
    fc.assert(fc.property(cases, ({ pre, grads }) => {
      const n = pre.length;
      const view = (v: Float32Array) => {
        const out = pool.allocView(Math.max(n, 1)).view.subarray(0, n);
        out.set(v);
        return out;
      };
      const x = Float32Array.from(pre);
      const g = Float32Array.from(pre, (_, i) => grads[i % grads.length]!);
      const want = new Float32Array(n);
      single(x, g, want);
      const out = view(new Float32Array(n));
      onPool(view(x), view(g), out);
      expect(firstBitDifference(out, want)).toBe(-1);
    }), propertyParams("pool geluNewBackward", 60));
  });

  it("stages plain operands (all, or only pre) through the memory in chunks, bit-identically, in place too", () => {
    const n = 3 * (1 << 18) + 8;
    const pre = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 7);
    const dPost = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.3));
    const want = new Float32Array(n);
    single(pre, dPost, want);
    const out = new Float32Array(n);
    onPool(pre, dPost, out);
    expect(firstBitDifference(out, want)).toBe(-1);
    const g = pool.allocView(n).view;
    g.set(dPost);
    onPool(pre, g, g);
    expect(firstBitDifference(g, want)).toBe(-1);
    const inPlace = dPost.slice();
    onPool(pre, inPlace, inPlace);
    expect(firstBitDifference(inPlace, want)).toBe(-1);
  });
});
