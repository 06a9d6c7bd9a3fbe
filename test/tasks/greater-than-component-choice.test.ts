import { describe, expect, it } from "vitest";
import { controlHead, mostImportantMlp } from "../../src/tasks/greater-than/component-analyses.ts";

// Two layers × two heads, then the MLP column.
const logits = { grid: [[-0.5, 0.01, -0.2], [0.3, -0.02, -0.4]] };
const toMlp = { grid: [[-0.1, -0.3, null], [null, null, null]] };

describe("component choices", () => {
  it("the control head is the non-circuit head whose largest |effect| over all grids is smallest", () => {
    expect(controlHead([logits], [{ layer: 0, head: 0 }], 2, 2)).toEqual({ layer: 0, head: 1 });
    expect(controlHead([logits, toMlp], [{ layer: 0, head: 0 }], 2, 2)).toEqual({ layer: 1, head: 1 });
    expect(controlHead([logits], [0, 1].flatMap((layer) => [0, 1].map((head) => ({ layer, head }))), 2, 2)).toBeNull();
  });

  it("the most important MLP is the candidate whose direct path lowers the metric most", () => {
    expect(mostImportantMlp(logits, 2, [1, 0])).toBe(1);
    expect(mostImportantMlp(logits, 2, [0])).toBe(0);
    expect(mostImportantMlp(logits, 2, [])).toBeNull();
  });
});
