/** TransformerLens-named weights: shapes, values sliced independently from the file, and the per-head OV / QK circuits against hooks. */
import { describe, expect, it } from "vitest";
import { headOut } from "../../src/gpt2/components/index.ts";
import type { HookName } from "../../src/gpt2/hook-names.ts";
import { loadGpt2FromDir } from "../../src/gpt2/node-load.ts";
import { tlWeights } from "../../src/gpt2/weight-views.ts";
import { HookedGpt2 } from "../../src/hooks/hooked-gpt2.ts";
import { loadHookedGpt2 } from "../../src/hooks/node-load-hooked.ts";
import { createWasmBackend } from "../../src/backend/wasm/wasm-backend.ts";
import { referenceBackend } from "../../src/backend/reference/reference-backend.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { expectClose } from "../helpers/compare.ts";
import { readFixture, TINY_DIR, tinyGolden } from "../helpers/fixtures.ts";

const file = readFixture("tiny-gpt2/model.safetensors");
const raw = (name: string) => file.getFloat32(`transformer.${name}`);
const golden = tinyGolden();
const tokens = { ids: golden.getInt32("tokens"), batch: 2, pos: 13 };
const yearTokens = [...golden.getInt32("year_tokens")];

const backends = [referenceBackend, createWasmBackend()].filter((b) => b !== null);

describe.each(backends.map((b) => [b.name, b] as const))("tlWeights (%s)", (_, backend) => {
  it("has TransformerLens's names and shapes", async () => {
    const model = await loadGpt2FromDir(TINY_DIR, backend);
    const tl = tlWeights(model);
    const { nLayers: L, nHeads: H, dModel: d, dHead: e, dMlp: m, dVocab: V, nCtx } = model.config;
    const shapes: Record<string, number[]> = {
      W_E: [V, d], W_pos: [nCtx, d], W_Q: [L, H, d, e], W_K: [L, H, d, e], W_V: [L, H, d, e], W_O: [L, H, e, d],
      b_Q: [L, H, e], b_K: [L, H, e], b_V: [L, H, e], b_O: [L, d], W_in: [L, d, m], b_in: [L, m], W_out: [L, m, d], b_out: [L, d],
      W_U: [d, V], b_U: [V],
    };
    for (const [name, shape] of Object.entries(shapes)) expect(tl[name as keyof typeof tl] as Tensor, name).toHaveProperty("shape", shape);
    expect(tlWeights(new HookedGpt2(model))).toBe(tl);
    expect(tl.OV(1, 2).shape).toEqual([d, d]);
    expect(tl.QK(1, 2).innerDim).toBe(e);
    expect(() => tl.OV(L, 0)).toThrow(/no head 2\.0/);
  });

  it("hold the file's values, sliced as TransformerLens slices c_attn and c_proj", async () => {
    const model = await loadGpt2FromDir(TINY_DIR, backend);
    const tl = tlWeights(model);
    const { nLayers, nHeads, dModel: d, dHead, dMlp } = model.config;
    for (let l = 0; l < nLayers; l++) {
      const cAttn = raw(`h.${l}.attn.c_attn.weight`);
      const cAttnBias = raw(`h.${l}.attn.c_attn.bias`);
      const cProj = raw(`h.${l}.attn.c_proj.weight`);
      for (let h = 0; h < nHeads; h++) {
        for (const [part, w, b] of [[0, tl.W_Q, tl.b_Q], [1, tl.W_K, tl.b_K], [2, tl.W_V, tl.b_V]] as const) {
          for (let i = 0; i < d; i += 5) for (let j = 0; j < dHead; j++) expect(w.get(l, h, i, j)).toBe(cAttn[i * 3 * d + part * d + h * dHead + j]);
          for (let j = 0; j < dHead; j++) expect(b.get(l, h, j)).toBe(cAttnBias[part * d + h * dHead + j]);
        }
        for (let i = 0; i < dHead; i++) for (let j = 0; j < d; j += 3) expect(tl.W_O.get(l, h, i, j)).toBe(cProj[(h * dHead + i) * d + j]);
      }
      const cFc = raw(`h.${l}.mlp.c_fc.weight`);
      for (let i = 0; i < d; i += 7) for (let j = 0; j < dMlp; j += 11) expect(tl.W_in.get(l, i, j)).toBe(cFc[i * dMlp + j]);
      expect([...tl.b_out.data.subarray(l * d, (l + 1) * d)]).toEqual([...raw(`h.${l}.mlp.c_proj.bias`)]);
    }
    const wte = raw("wte.weight");
    for (const t of [0, 7, 50256]) for (let j = 0; j < d; j++) {
      expect(tl.W_E.get(t, j)).toBe(wte[t * d + j]);
      expect(tl.W_U.get(j, t)).toBe(wte[t * d + j]); // tied
    }
    expect([...new Set(tl.b_U.data)]).toEqual([0]);
  });

  it("OV and QK give what the head computes: x·OV = (v − b_V)·W_O[h], x_q·QK·x_kᵀ = (q − b_Q)·(k − b_K)ᵀ", async () => {
    const model = new HookedGpt2(await loadGpt2FromDir(TINY_DIR, backend));
    const tl = tlWeights(model);
    const { nHeads, dModel: d, dHead } = model.config;
    const layer = 1;
    const { cache } = model.run(tokens, { cache: true });
    const ln1 = cache.get(`blocks.${layer}.ln1.hook_normalized` as HookName);
    const block = model.model.weights.blocks[layer]!;
    const x = new Tensor(ln1.data.map((n, i) => n * block.ln1Weight[i % d]! + block.ln1Bias[i % d]!), [tokens.batch * tokens.pos, d]);
    const part = (name: "q" | "k" | "v", h: number, row: number, bias: Tensor) =>
      Array.from({ length: dHead }, (_, j) => cache.get(`blocks.${layer}.attn.hook_${name}` as HookName).data[(row * nHeads + h) * dHead + j]! - bias.get(layer, h, j));
    for (let h = 0; h < nHeads; h++) {
      const ov = tl.OV(layer, h);
      const rows = ov.leftMatmul(x).materialize();
      const vMinusBias = new Tensor(Float32Array.from({ length: x.shape[0]! * dHead }, (_, i) => part("v", h, Math.floor(i / dHead), tl.b_V)[i % dHead]!), [x.shape[0]!, dHead]);
      expectClose(rows.data, headOut(model.model, layer, h, vMinusBias).data, 1e-5, `OV ${h}`);
      expectClose(ov.vecmat(new Tensor(x.data.slice(3 * d, 4 * d), [d])).data, rows.data.subarray(3 * d, 4 * d), 1e-5, `OV vecmat ${h}`);
      const qk = tl.QK(layer, h);
      const scores = qk.leftMatmul(x).matmul(transposeOf(x)).materialize();
      for (const [qRow, kRow] of [[12, 3], [5, 5], [20, 14]] as const) {
        const q = part("q", h, qRow, tl.b_Q);
        const k = part("k", h, kRow, tl.b_K);
        const expected = q.reduce((acc, qj, j) => acc + qj * k[j]!, 0);
        expect(scores.get(qRow, kRow)).toBeCloseTo(expected, 3);
      }
    }
  });

  it("a head's OV circuit on the year tokens is one line: W_E[years]·OV·W_U[:, years]", async () => {
    const model = await loadGpt2FromDir(TINY_DIR, backend);
    const tl = tlWeights(model);
    const circuit = tl.OV(0, 1).leftMatmul(tl.embeddings(yearTokens)).matmul(tl.unembeddings(yearTokens)).materialize();
    expect(circuit.shape).toEqual([100, 100]);
    const ov = tl.OV(0, 1).materialize();
    const d = model.config.dModel;
    for (const [i, j] of [[0, 0], [17, 42], [99, 3]] as const) {
      let expected = 0;
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) expected += tl.W_E.get(yearTokens[i]!, a) * ov.get(a, b) * tl.W_U.get(b, yearTokens[j]!);
      expect(circuit.get(i, j)).toBeCloseTo(expected, 4);
    }
  });

  it("views the processed weights when the model was loaded with processing", async () => {
    const processed = await loadHookedGpt2(TINY_DIR, backend, { processing: "transformer-lens" });
    const tl = tlWeights(processed);
    expect([...new Set(tl.b_V.data)]).toEqual([0]);
    expect(tl.b_U.data.some((x) => x !== 0)).toBe(true);
    const { dModel: d } = processed.config;
    // W_E centred per row (center_writing_weights); W_U no longer W_Eᵀ.
    let mean = 0;
    for (let j = 0; j < d; j++) mean += tl.W_E.get(11, j);
    expect(Math.abs(mean / d)).toBeLessThan(1e-6);
    expect(tl.W_U.get(0, 11)).not.toBe(tl.W_E.get(11, 0));
  });
});

function transposeOf(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const out = new Float32Array(t.size);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j]!;
  return new Tensor(out, [c, r]);
}
