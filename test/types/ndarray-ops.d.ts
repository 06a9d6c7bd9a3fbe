/** The few scijs `ndarray-ops` functions the tests use (the package ships no types). */
declare module "ndarray-ops" {
  import type { NdArray } from "ndarray";

  type View = NdArray<any>;
  const ops: {
    /** out = a + b, elementwise. */
    add(out: View, a: View, b: View): void;
    /** a += b. */
    addeq(a: View, b: View): void;
    /** out = a − b. */
    sub(out: View, a: View, b: View): void;
    /** a −= b. */
    subeq(a: View, b: View): void;
    /** out = a · b. */
    mul(out: View, a: View, b: View): void;
    /** a ·= b. */
    muleq(a: View, b: View): void;
    /** out = a · s. */
    muls(out: View, a: View, s: number): void;
    /** a ·= s. */
    mulseq(a: View, s: number): void;
    /** out = a (copies a view, of any strides, into out). */
    assign(out: View, a: View): void;
    /** out = s everywhere. */
    assigns(out: View, s: number): void;
    /** Whether a and b have equal shapes and elements (===). */
    equals(a: View, b: View): boolean;
    /** Σ a. */
    sum(a: View): number;
    /** max a (−∞ for an empty view; NaN never wins). */
    sup(a: View): number;
    /** min a (+∞ for an empty view; NaN never wins). */
    inf(a: View): number;
    /** The index of the first largest element. */
    argmax(a: View): number[];
    /** The index of the first smallest element. */
    argmin(a: View): number[];
  };
  export = ops;
}
