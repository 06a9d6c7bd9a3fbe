import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { InputError } from "../../src/errors.ts";
import {
  YEAR_COUNT,
  cutoffSharpness,
  gatherYearLogits,
  logSumExpRows,
  meanCutoffSharpness,
  meanProbabilityDifference,
  probabilityDifference,
  yearProbabilities,
  yearProbabilitiesFromLogSumExp,
} from "../../src/tasks/greater-than/metrics.ts";

const VOCAB = 300;
// Year "yy" is token 100 + yy of the toy vocabulary; tokens 0..99 and 200..299 are other words.
const YEAR_TOKENS = Array.from({ length: YEAR_COUNT }, (_, yy) => 100 + yy);

const logitRows = (batch: number, min = -30, max = 30) =>
  fc.float32Array({ minLength: batch * VOCAB, maxLength: batch * VOCAB, min: Math.fround(min), max: Math.fround(max), noNaN: true });

describe("yearProbabilities", () => {
  it("is the full-vocabulary softmax restricted to the year tokens", () => {
    fc.assert(
      fc.property(logitRows(2), (logits) => {
        // A Float32Array takes the WebAssembly SIMD log-sum-exp (f32 exps: relative error ≤ 1e-6
        // on p); a plain array takes the float64 Math.exp path (exact to ~1e-12).
        const probs = yearProbabilities(logits, VOCAB, YEAR_TOKENS);
        const probs64 = yearProbabilities(Array.from(logits), VOCAB, YEAR_TOKENS);
        for (let row = 0; row < 2; row++) {
          let total = 0;
          for (let i = 0; i < VOCAB; i++) total += Math.exp(logits[row * VOCAB + i]);
          for (let yy = 0; yy < YEAR_COUNT; yy++) {
            const naive = Math.exp(logits[row * VOCAB + 100 + yy]) / total;
            expect(probs64[row * YEAR_COUNT + yy]).toBeCloseTo(naive, 12);
            expect(Math.abs(probs[row * YEAR_COUNT + yy] - naive)).toBeLessThanOrEqual(1e-6 * naive);
          }
        }
      }),
      { numRuns: 30 },
    );
  });

  it("agrees with the route through year logits and log-sum-exp", () => {
    fc.assert(
      fc.property(logitRows(3), (logits) => {
        const direct = yearProbabilities(logits, VOCAB, YEAR_TOKENS);
        const yearLogits = Float32Array.from(gatherYearLogits(logits, VOCAB, YEAR_TOKENS));
        const viaLse = yearProbabilitiesFromLogSumExp(yearLogits, logSumExpRows(logits, VOCAB));
        expect(Array.from(viaLse)).toEqual(Array.from(direct));
      }),
      { numRuns: 30 },
    );
  });

  it("stays finite for logits of ±1e4", () => {
    const logits = new Float32Array(2 * VOCAB).fill(-1e4);
    logits[100 + 57] = 1e4; // row 0: all mass on "57"
    logits[VOCAB + 100 + 3] = 1e4; // row 1: "03" and a non-year token share the mass
    logits[VOCAB + 250] = 1e4;
    const probs = yearProbabilities(logits, VOCAB, YEAR_TOKENS);
    expect(probs.every(Number.isFinite)).toBe(true);
    expect(probs[57]).toBe(1);
    expect(probs[YEAR_COUNT + 3]).toBeCloseTo(0.5, 12);
    expect(probs[0]).toBe(0);
  });

  it("checks shapes and year tokens", () => {
    expect(() => yearProbabilities(new Float32Array(VOCAB + 1), VOCAB, YEAR_TOKENS)).toThrow(InputError);
    expect(() => yearProbabilities(new Float32Array(VOCAB), VOCAB, YEAR_TOKENS.slice(1))).toThrow(InputError);
    expect(() => yearProbabilities(new Float32Array(VOCAB), VOCAB, [...YEAR_TOKENS.slice(1), VOCAB])).toThrow(InputError);
    expect(() => yearProbabilitiesFromLogSumExp(new Float32Array(200), [0])).toThrow(InputError);
  });
});

/** Year probabilities with mass `p` on year `year` and the rest spread over non-year tokens. */
function massOn(year: number, p: number): Float64Array {
  const probs = new Float64Array(YEAR_COUNT);
  probs[year] = p;
  return probs;
}

describe("probabilityDifference and cutoffSharpness", () => {
  it("give PD = 1 and CS = p when all year mass p sits on YY+1", () => {
    expect(probabilityDifference(massOn(43, 1), [42])[0]).toBe(1);
    expect(cutoffSharpness(massOn(43, 1), [42])[0]).toBe(1);
    expect(cutoffSharpness(massOn(43, 0.3), [42])[0]).toBeCloseTo(0.3, 15);
    expect(probabilityDifference(massOn(43, 0.3), [42])[0]).toBeCloseTo(0.3, 15);
  });

  it("count YY itself as not greater", () => {
    expect(probabilityDifference(massOn(42, 1), [42])[0]).toBe(-1);
    expect(cutoffSharpness(massOn(41, 0.25), [42])[0]).toBe(-0.25);
  });

  it("keep PD in [-1, 1] and match their sums", () => {
    fc.assert(
      fc.property(logitRows(4), fc.array(fc.integer({ min: 1, max: 98 }), { minLength: 4, maxLength: 4 }), (logits, yy) => {
        const probs = yearProbabilities(logits, VOCAB, YEAR_TOKENS);
        const pd = probabilityDifference(probs, yy);
        const cs = cutoffSharpness(probs, yy);
        for (let row = 0; row < 4; row++) {
          const p = (year: number) => probs[row * YEAR_COUNT + year];
          let above = 0;
          let atOrBelow = 0;
          for (let year = 0; year < YEAR_COUNT; year++) (year > yy[row] ? (above += p(year)) : (atOrBelow += p(year)));
          expect(pd[row]).toBeGreaterThanOrEqual(-1);
          expect(pd[row]).toBeLessThanOrEqual(1);
          expect(pd[row]).toBeCloseTo(above - atOrBelow, 12);
          expect(cs[row]).toBe(p(yy[row] + 1) - p(yy[row] - 1));
        }
        expect(meanProbabilityDifference(probs, yy)).toBeCloseTo(pd.reduce((a, b) => a + b) / 4, 14);
        expect(meanCutoffSharpness(probs, yy)).toBeCloseTo(cs.reduce((a, b) => a + b) / 4, 14);
      }),
      { numRuns: 30 },
    );
  });

  it("reject a yy they cannot use", () => {
    const probs = new Float64Array(2 * YEAR_COUNT);
    expect(() => probabilityDifference(probs, [3])).toThrow(InputError);
    expect(() => probabilityDifference(probs, [3, 100])).toThrow(InputError);
    expect(() => cutoffSharpness(probs, [0, 5])).toThrow(InputError);
    expect(() => cutoffSharpness(probs, [5, 99])).toThrow(InputError);
    expect(probabilityDifference(probs, [0, 99])).toHaveLength(2);
  });
});
