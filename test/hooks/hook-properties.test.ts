/**
 * Property tests of the hook machinery on the tiny model (2 layers, d_model 32, 4 heads, full vocab):
 * random prompts are random token ids, 1…3 prompts of 1…20 tokens.
 *
 * One documented subtlety: when a *hook* is registered on `attn.hook_result`, `hook_attn_out` becomes
 * the per-head sum instead of one matmul over all heads (so edits flow on). That changes the
 * floating-point summation order, so with such hooks the baseline is a run with the same hooks
 * (and the plain run agrees to ~1e-7 relative). Caching alone never changes the logits.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { type HookName, hookShape } from "../../src/gpt2/hook-names.ts";
import { type HookSpec, HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { expectClose, relativeError } from "../helpers/compare.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR));
const { config } = model;
const NAMES = model.hookNames;
const LAST_ACTIVATION: HookName = "ln_final.hook_normalized";

function isResult(name: string): boolean {
  return name.endsWith("attn.hook_result");
}

const RUNS = { numRuns: 8 } as const;

/** 1…3 prompts of the same length 1…20, ids anywhere in the vocabulary. */
const prompts = fc
  .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 20 }))
  .chain(([batch, pos]) =>
    fc.array(fc.array(fc.integer({ min: 0, max: config.dVocab - 1 }), { minLength: pos, maxLength: pos }), {
      minLength: batch,
      maxLength: batch,
    }),
  );
const hookName = fc.constantFrom(...NAMES);
const nameSubset = fc.subarray([...NAMES]);

/** Same float32 bits everywhere (so NaN equals NaN and -0 differs from 0). */
function expectBitIdentical(actual: Tensor, expected: Tensor, label: string): void {
  expect(actual.shape, label).toEqual(expected.shape);
  const a = new Uint32Array(actual.data.buffer, actual.data.byteOffset, actual.data.length);
  const b = new Uint32Array(expected.data.buffer, expected.data.byteOffset, expected.data.length);
  let firstDiff = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      firstDiff = i;
      break;
    }
  }
  expect(firstDiff, `${label}: first differing element (of ${a.length})`).toBe(-1);
}

describe("identity hooks and caching are invisible", () => {
  it("an identity hook (returning its input, or nothing) on any hook names leaves the logits bit-identical", () => {
    const hooked = fc.array(fc.tuple(hookName, fc.boolean()), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(prompts, hooked, (tokens, hooks) => {
        const names = hooks.map(([name]) => name);
        const specs: HookSpec[] = hooks.map(([name, returnsInput]) => [name, (x) => (returnsInput ? x : undefined)]);
        const hookedLogits = model.run(tokens, { hooks: specs }).logits;
        const plain = model.run(tokens).logits;
        if (names.some(isResult)) expectClose(hookedLogits.data, plain.data, 1e-5, `identity hooks on ${names.join(", ")}`);
        else expectBitIdentical(hookedLogits, plain, `identity hooks on ${names.join(", ")}`);
      }),
      RUNS,
    );
  });

  it("an identity filter hook on every name agrees with the plain run and with caching everything", () => {
    fc.assert(
      fc.property(prompts, (tokens) => {
        const withAll = model.run(tokens, { hooks: [[() => true, (x) => x]] }).logits;
        const plain = model.run(tokens).logits;
        expectBitIdentical(model.run(tokens, { cache: true }).logits, plain, "cache everything vs the plain run");
        // Hooks on hook_result only reorder a float sum: the plain run agrees closely.
        expectClose(withAll.data, plain.data, 1e-5, "vs the plain run");
      }),
      { numRuns: 5 },
    );
  });

  it("caching (everything, or any subset of names) does not change the logits", () => {
    const selector = fc.oneof(fc.constant(true as const), fc.constant(false as const), nameSubset);
    fc.assert(
      fc.property(prompts, selector, (tokens, cache) => {
        const cached = model.run(tokens, { cache });
        expect(cached.cache.names.length).toBe(cache === true ? NAMES.length : cache === false ? 0 : cache.length);
        expectBitIdentical(cached.logits, model.run(tokens).logits, "logits vs plain run");
      }),
      RUNS,
    );
  });

  it("a hook replacing an activation by a clone of the run's own cached value changes nothing", () => {
    fc.assert(
      fc.property(prompts, hookName, (tokens, name) => {
        const reference = model.run(tokens, { cache: true, hooks: [[name, () => undefined]] });
        const replaced = model.run(tokens, { cache: true, hooks: [[name, () => reference.cache.get(name).clone()]] });
        expectBitIdentical(replaced.logits, reference.logits, `logits, ${name} replaced`);
        for (const [cachedName, value] of replaced.cache) {
          expectBitIdentical(value, reference.cache.get(cachedName), `${cachedName}, ${name} replaced`);
        }
      }),
      { numRuns: 6 },
    );
  });
});

describe("hook points", () => {
  it("fire exactly once each, in the documented order (hook_result only when asked for)", () => {
    expect(NAMES.length).toBe(2 + 18 * config.nLayers + 3);
    expect(new Set(NAMES).size).toBe(NAMES.length);
    fc.assert(
      fc.property(prompts, fc.boolean(), (tokens, withResult) => {
        const fired: string[] = [];
        const filter = withResult ? () => true : (name: HookName) => !isResult(name);
        model.run(tokens, { hooks: [[filter, (_x, context) => void fired.push(context.name)]] });
        expect(fired).toEqual(withResult ? NAMES : NAMES.filter((n) => !isResult(n)));
      }),
      { numRuns: 4 },
    );
  });

  it("give hooks the right context, and cache in firing order", () => {
    fc.assert(
      fc.property(prompts, (tokens) => {
        const contexts: [string, number | null, readonly number[]][] = [];
        const { cache } = model.run(tokens, {
          cache: true,
          hooks: [[() => true, (x, c) => void contexts.push([c.name, c.layer, c.shape])]],
        });
        expect(cache.names).toEqual(NAMES);
        for (const [name, layer, shape] of contexts) {
          const match = /^blocks\.(\d+)\./.exec(name);
          expect(layer, name).toBe(match ? Number(match[1]) : null);
          expect(shape, name).toEqual(cache.get(name as HookName).shape);
        }
      }),
      { numRuns: 3 },
    );
  });

  it("cache every activation with the shape hookShape documents", () => {
    fc.assert(
      fc.property(prompts, (tokens) => {
        const batch = tokens.length;
        const pos = tokens[0]!.length;
        const { cache, logits } = model.run(tokens, { cache: true });
        expect(logits.shape).toEqual([batch, pos, config.dVocab]);
        for (const name of NAMES) {
          expect(cache.get(name).shape, name).toEqual(hookShape(name, config, batch, pos));
        }
      }),
      { numRuns: 4 },
    );
  });
});

describe("activations satisfy the residual-stream identities", () => {
  it("resid_mid = resid_pre + attn_out and resid_post = resid_mid + mlp_out", () => {
    fc.assert(
      fc.property(prompts, (tokens) => {
        const cache = model.runUntil(tokens, LAST_ACTIVATION, { cache: true });
        for (let layer = 0; layer < config.nLayers; layer++) {
          const get = (suffix: string) => cache.get(`blocks.${layer}.${suffix}` as HookName).data;
          const residPre = get("hook_resid_pre"), attnOut = get("hook_attn_out"), residMid = get("hook_resid_mid");
          const mlpOut = get("hook_mlp_out"), residPost = get("hook_resid_post");
          expectClose(residMid, residPre.map((x, i) => x + attnOut[i]!), 1e-6, `blocks.${layer}.hook_resid_mid`);
          expectClose(residPost, residMid.map((x, i) => x + mlpOut[i]!), 1e-6, `blocks.${layer}.hook_resid_post`);
          if (layer + 1 < config.nLayers) {
            expect(cache.get(`blocks.${layer + 1}.hook_resid_pre`).data).toEqual(residPost);
          }
        }
        const embed = cache.get("hook_embed").data, posEmbed = cache.get("hook_pos_embed").data;
        expectClose(cache.get("blocks.0.hook_resid_pre").data, embed.map((x, i) => x + posEmbed[i]!), 1e-6, "resid_pre 0");
      }),
      RUNS,
    );
  });

  it("Σ over heads of hook_result + c_proj bias = hook_attn_out (also of a run that never splits heads)", () => {
    fc.assert(
      fc.property(prompts, (tokens) => {
        const withResult = model.runUntil(tokens, LAST_ACTIVATION, { cache: true });
        const withoutResult = model.runUntil(tokens, LAST_ACTIVATION, { cache: (name) => !isResult(name) });
        expect(withoutResult.has("blocks.0.attn.hook_result")).toBe(false);
        for (let layer = 0; layer < config.nLayers; layer++) {
          const result = withResult.get(`blocks.${layer}.attn.hook_result`);
          const [batch, pos, nHeads, dModel] = result.shape as [number, number, number, number];
          const bias = model.model.weights.blocks[layer]!.outBias;
          const summed = new Float64Array(batch * pos * dModel);
          for (let r = 0; r < batch * pos; r++) {
            for (let j = 0; j < dModel; j++) {
              let acc = bias[j]!;
              for (let h = 0; h < nHeads; h++) acc += result.data[(r * nHeads + h) * dModel + j]!;
              summed[r * dModel + j] = acc;
            }
          }
          const name = `blocks.${layer}.hook_attn_out` as const;
          expectClose(withResult.get(name).data, summed, 1e-5, `${name} (same run)`);
          expectClose(withoutResult.get(name).data, summed, 1e-5, `${name} (run without hook_result)`);
        }
      }),
      RUNS,
    );
  });

  it("attention patterns are causal: rows sum to 1, exactly 0 above the diagonal, scores −∞ there", () => {
    fc.assert(
      fc.property(prompts, (tokens) => {
        const cache = model.runUntil(tokens, LAST_ACTIVATION, { cache: (name) => name.includes("attn.hook_") });
        for (let layer = 0; layer < config.nLayers; layer++) {
          const pattern = cache.get(`blocks.${layer}.attn.hook_pattern`);
          const scores = cache.get(`blocks.${layer}.attn.hook_attn_scores`);
          const pos = pattern.shape[3]!;
          for (let row = 0; row < pattern.size / pos; row++) {
            const query = row % pos;
            let sum = 0;
            for (let key = 0; key < pos; key++) {
              const p = pattern.data[row * pos + key]!;
              const s = scores.data[row * pos + key]!;
              if (key > query) {
                expect(Object.is(p, 0), `pattern above the diagonal, layer ${layer} row ${row} key ${key}`).toBe(true);
                expect(s, `scores above the diagonal, layer ${layer}`).toBe(-Infinity);
              } else {
                expect(Number.isFinite(s), `score at layer ${layer} row ${row} key ${key}`).toBe(true);
                expect(p).toBeGreaterThanOrEqual(0);
                sum += p;
              }
            }
            expect(Math.abs(sum - 1), `row sum of layer ${layer} row ${row}`).toBeLessThan(1e-5);
          }
        }
      }),
      RUNS,
    );
  });

  it("hook_normalized has zero mean and variance var/(var+eps) per row; hook_scale = √(var+eps)", () => {
    const eps = config.layerNormEps;
    fc.assert(
      fc.property(prompts, (tokens) => {
        const cache = model.runUntil(tokens, LAST_ACTIVATION, { cache: true });
        const norms: [HookName, HookName, HookName][] = [];
        for (let layer = 0; layer < config.nLayers; layer++) {
          norms.push([`blocks.${layer}.hook_resid_pre`, `blocks.${layer}.ln1.hook_normalized`, `blocks.${layer}.ln1.hook_scale`]);
          norms.push([`blocks.${layer}.hook_resid_mid`, `blocks.${layer}.ln2.hook_normalized`, `blocks.${layer}.ln2.hook_scale`]);
        }
        norms.push([`blocks.${config.nLayers - 1}.hook_resid_post`, "ln_final.hook_normalized", "ln_final.hook_scale"]);
        const d = config.dModel;
        for (const [inputName, normalizedName, scaleName] of norms) {
          const input = cache.get(inputName).data, normalized = cache.get(normalizedName).data;
          const scale = cache.get(scaleName).data;
          for (let row = 0; row < input.length / d; row++) {
            const inputStats = rowStats(input, row, d);
            const stats = rowStats(normalized, row, d);
            const expectedVariance = inputStats.variance / (inputStats.variance + eps);
            expect(Math.abs(stats.mean), `${normalizedName} row ${row} mean`).toBeLessThan(1e-5);
            expect(Math.abs(stats.variance - expectedVariance), `${normalizedName} row ${row} variance`).toBeLessThan(
              1e-5 * expectedVariance + 1e-7,
            );
            const expectedScale = Math.sqrt(inputStats.variance + eps);
            expect(Math.abs(scale[row]! - expectedScale) / expectedScale, `${scaleName} row ${row}`).toBeLessThan(1e-5);
          }
        }
      }),
      RUNS,
    );
  });
});

function rowStats(values: Float32Array, row: number, width: number): { mean: number; variance: number } {
  let mean = 0;
  for (let j = 0; j < width; j++) mean += values[row * width + j]!;
  mean /= width;
  let variance = 0;
  for (let j = 0; j < width; j++) variance += (values[row * width + j]! - mean) ** 2;
  return { mean, variance: variance / width };
}

describe("hooks take effect, and leave nothing behind", () => {
  it("a throwing hook (even one that edited its activation first) leaves no state behind", () => {
    fc.assert(
      fc.property(prompts, hookName, fc.boolean(), (tokens, name, cacheToo) => {
        const before = model.run(tokens).logits;
        const boom = new Error(`boom at ${name}`);
        const throwing: HookSpec = [
          name,
          (x) => {
            x.data.fill(123);
            throw boom;
          },
        ];
        let thrown: unknown;
        try {
          model.run(tokens, { hooks: [throwing], cache: cacheToo });
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBe(boom);
        expectBitIdentical(model.run(tokens).logits, before, `plain run after a hook on ${name} threw`);
      }),
      RUNS,
    );
  });

  it("zeroing a head's pattern changes the logits, exactly as zeroing its hook_z does", () => {
    const head = fc.tuple(fc.integer({ min: 0, max: config.nLayers - 1 }), fc.integer({ min: 0, max: config.nHeads - 1 }));
    fc.assert(
      fc.property(prompts, head, (tokens, [layer, h]) => {
        const plain = model.run(tokens).logits;
        const viaPattern = model.run(tokens, {
          hooks: [
            [
              `blocks.${layer}.attn.hook_pattern`,
              (pattern) => {
                const [batch, nHeads, pos, keys] = pattern.shape as [number, number, number, number];
                for (let b = 0; b < batch; b++) pattern.data.fill(0, ((b * nHeads + h) * pos) * keys, ((b * nHeads + h + 1) * pos) * keys);
              },
            ],
          ],
        }).logits;
        const viaZ = model.run(tokens, {
          hooks: [
            [
              `blocks.${layer}.attn.hook_z`,
              (z) => {
                const out = z.clone();
                const [batch, pos, nHeads, dHead] = z.shape as [number, number, number, number];
                for (let r = 0; r < batch * pos; r++) out.data.fill(0, (r * nHeads + h) * dHead, (r * nHeads + h + 1) * dHead);
                return out;
              },
            ],
          ],
        }).logits;
        expect(relativeError(viaPattern.data, plain.data), `zeroing head ${layer}.${h} changes logits`).toBeGreaterThan(1e-4);
        expectClose(viaZ.data, viaPattern.data, 1e-5, `head ${layer}.${h}: hook_z edit vs hook_pattern edit`);
      }),
      RUNS,
    );
  });
});
