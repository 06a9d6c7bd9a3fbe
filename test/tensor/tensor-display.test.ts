/** How a Tensor shows itself: String(), Node's util.inspect, Deno's console hook and Jupyter's rich display. */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { Tensor } from "../../src/tensor/tensor.ts";

const arange = (shape: number[], f = (i: number) => i) =>
  Tensor.from(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => f(i)), shape);

const display = (t: Tensor) => (t as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")]!();

describe("text", () => {
  it("shows shape, dtype and every value of a small tensor, aligned like numpy", () => {
    expect(String(arange([2, 3], (i) => i - 2.5))).toBe(
      ["Tensor shape=[2, 3] dtype=float32", "[[-2.5000, -1.5000, -0.5000],", " [ 0.5000,  1.5000,  2.5000]]"].join("\n"),
    );
    expect(String(arange([2, 1, 2]))).toBe(
      ["Tensor shape=[2, 1, 2] dtype=float32", "[[[0.0000, 1.0000]],", "", " [[2.0000, 3.0000]]]"].join("\n"),
    );
    expect(String(Tensor.from([NaN, Infinity, -Infinity], [3]))).toContain("[ nan,  inf, -inf]");
    expect(String(Tensor.from([7], []))).toBe("Tensor shape=[] dtype=float32\n7.0000");
    expect(String(Tensor.zeros([2, 0]))).toBe("Tensor shape=[2, 0] dtype=float32\n[[],\n []]");
  });

  it("elides the middle of long axes once the tensor is large (first and last three)", () => {
    const text = String(arange([1, 12, 13, 13], (i) => i / 1000));
    const lines = text.split("\n");
    expect(lines[0]).toBe("Tensor shape=[1, 12, 13, 13] dtype=float32");
    expect(lines[1]).toBe("[[[[0.0000, 0.0010, 0.0020, …, 0.0100, 0.0110, 0.0120],");
    expect(lines.length).toBeLessThanOrEqual(51); // 7 slices × 7 rows, blank lines between
    expect(text).toContain("…,");
    const logits = String(Tensor.zeros([1, 13, 50257]));
    expect(logits.split("\n").length).toBeLessThan(12);
  });

  it("switches to scientific notation only when fixed notation would hide the values", () => {
    expect(String(Tensor.from([1e9, 2], [2]))).toContain("[1.0000e+9, 2.0000e+0]");
    expect(String(Tensor.from([1e-6, -2e-6], [2]))).toContain("[ 1.0000e-6, -2.0000e-6]");
    expect(String(Tensor.from([1e-6, 1], [2]))).toContain("[0.0000, 1.0000]");
  });

  it("is what Node's util.inspect and Deno's console show, also nested in objects", () => {
    const t = arange([2, 2]);
    expect(inspect(t)).toBe(String(t));
    expect(inspect({ t })).toContain("Tensor shape=[2, 2] dtype=float32");
    const deno = (t as unknown as Record<symbol, () => string>)[Symbol.for("Deno.customInspect")]!;
    expect(deno.call(t)).toBe(String(t));
  });
});

describe("Jupyter display", () => {
  it("a small tensor of rank ≤ 2 is an HTML table of its values", () => {
    const bundle = display(arange([2, 3]));
    expect(bundle["text/plain"]).toBe(String(arange([2, 3])));
    const html = bundle["text/html"]!;
    expect(html).toContain("Tensor shape=[2, 3] dtype=float32");
    expect(html.match(/<td /g)).toHaveLength(6);
    expect(html).toContain(">5.0000</td>");
    expect(display(arange([4]))["text/html"]!.match(/<td /g)).toHaveLength(4);
  });

  it("larger tensors show heatmaps of their leading 2-D slices, at most four", () => {
    const html = display(arange([1, 12, 13, 13], (i) => (i % 13) / 13))["text/html"]!;
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html.match(/<rect /g)).toHaveLength(4 * 13 * 13);
    expect(html).toContain("[0, 0, :, :]");
    expect(html).toContain("[0, 3, :, :]");
    expect(html).toContain("8 more slices");
    expect(html).toContain("<title>[0, 1] 0.0769</title>");
  });

  it("tensors too large to draw get a summary and the text preview", () => {
    const html = display(Tensor.zeros([1, 13, 50257]))["text/html"]!;
    expect(html).not.toContain("<svg");
    expect(html).toContain("min 0.0000, max 0.0000, mean 0.0000");
    expect(html).toContain("<pre");
  });
});
