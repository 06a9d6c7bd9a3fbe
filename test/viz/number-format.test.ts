import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatCompactNumber,
  formatExactValue,
  formatTooltipValue,
  formatSvgNumber,
  formatTickValue,
} from "../../src/viz/number-format.ts";
import { labelStride } from "../../src/viz/label-stride.ts";
import { niceTicks, niceTicksWithin } from "../../src/viz/nice-ticks.ts";

describe("number formatting", () => {
  it("formats SVG numbers with at most two decimals and no -0", () => {
    expect(formatSvgNumber(1.23456)).toBe("1.23");
    expect(formatSvgNumber(-0.001)).toBe("0");
    expect(formatSvgNumber(40)).toBe("40");
    expect(() => formatSvgNumber(NaN)).toThrow(/internal/);
  });

  it("gives exact tooltip values and explains missing ones", () => {
    expect(formatExactValue(0.1 + 0.2)).toBe("0.30000000000000004");
    expect(formatExactValue(null)).toBe("n/a");
    expect(formatExactValue(NaN)).toBe("n/a (NaN)");
    expect(formatExactValue(-Infinity)).toBe("n/a (-Infinity)");
    expect(formatExactValue(-0)).toBe("0");
  });

  it("rounds tooltip values to four significant digits and explains missing ones", () => {
    expect(formatTooltipValue(0.1 + 0.2)).toBe("0.3");
    expect(formatTooltipValue(0.00441911966493553)).toBe("0.004419");
    expect(formatTooltipValue(-0.123456)).toBe("-0.1235");
    expect(formatTooltipValue(1.3901996565030645e-8)).toBe("1.39e-8");
    expect(formatTooltipValue(-0.00012345678)).toBe("-1.235e-4");
    expect(formatTooltipValue(123456)).toBe("1.235e+5");
    expect(formatTooltipValue(98765.4)).toBe("98770");
    expect(formatTooltipValue(0)).toBe("0");
    expect(formatTooltipValue(-0)).toBe("0");
    expect(formatTooltipValue(null)).toBe("n/a");
    expect(formatTooltipValue(NaN)).toBe("n/a (NaN)");
  });

  it("formats compact and tick values", () => {
    expect(formatCompactNumber(0.87345)).toBe("0.873");
    expect(formatCompactNumber(1234567)).toBe("1.23e+6");
    expect(formatCompactNumber(0.00001234)).toBe("1.23e-5");
    expect(formatTickValue(-0.0001, 2)).toBe("0.00");
  });
});

describe("nice ticks", () => {
  it("covers the extent with round steps", () => {
    expect(niceTicks(0, 99, 6).values).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(-0.12, 0.31).labels).toEqual(["-0.2", "-0.1", "0.0", "0.1", "0.2", "0.3", "0.4"]);
    expect(niceTicksWithin(-0.4, 0.4).values).toEqual([-0.4, -0.2, 0, 0.2, 0.4]);
  });

  it("always returns finite, ordered ticks spanning the input", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }), fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }), (a, b) => {
        fc.pre(a !== b);
        const [min, max] = a < b ? [a, b] : [b, a];
        const ticks = niceTicks(min, max);
        expect(ticks.values.length).toBeGreaterThanOrEqual(2);
        expect(ticks.values.every(Number.isFinite)).toBe(true);
        const slack = 1e-6 * (max - min); // a value within 1e-9 steps of a tick counts as covered
        expect(ticks.min).toBeLessThanOrEqual(min + slack);
        expect(ticks.max).toBeGreaterThanOrEqual(max - slack);
        expect(ticks.labels.join(" ")).not.toMatch(/NaN|Infinity/);
      }),
    );
  });

  it("covers ranges whose ends lose digits when divided by the step (seed -2004570827)", () => {
    const [min, max] = [-9.999999999999975e299, -9.999999999999972e299];
    const ticks = niceTicks(min, max);
    expect(ticks.min).toBeLessThanOrEqual(min);
    expect(ticks.max).toBeGreaterThanOrEqual(max);
  });

  it("falls back to the endpoints when the range is too small for the magnitude to hold a whole step", () => {
    const ticks = niceTicks(-9.999999999999974e299, -9.999999999999972e299);
    expect(ticks.values).toEqual([-9.999999999999974e299, -9.999999999999972e299]);
  });

  it("chooses label strides from 1, 2, 5, 10, ...", () => {
    expect(labelStride(44, 20)).toBe(1);
    expect(labelStride(6, 21)).toBe(5);
    expect(labelStride(6, 50)).toBe(10);
    expect(labelStride(0.5, 20)).toBe(50);
    expect(labelStride(0.05, 20)).toBe(500);
  });
});
