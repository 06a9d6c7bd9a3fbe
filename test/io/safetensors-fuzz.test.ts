import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { serializeSafetensors, type SafetensorsDType, type TensorToWrite } from "../../src/io/safetensors.ts";
import { assembleFile, exercise, parseError, splitFile } from "./safetensors-test-helpers.ts";

const TIMEOUT = { timeout: 20_000 };

const smallTensor: fc.Arbitrary<TensorToWrite> = fc
  .tuple(
    fc.constantFrom<SafetensorsDType>("F32", "F16", "BF16", "I32", "I64", "U8", "BOOL"),
    fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
  )
  .map(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data =
      dtype === "F32" || dtype === "F16" || dtype === "BF16" ? new Float32Array(n).fill(1.5)
      : dtype === "I32" ? new Int32Array(n).fill(-7)
      : dtype === "I64" ? new BigInt64Array(n).fill(2n ** 40n)
      : new Uint8Array(n).fill(1);
    return { dtype, shape, data };
  });

const validFile = fc
  .tuple(
    fc.dictionary(fc.string({ maxLength: 6 }), smallTensor, { minKeys: 2, maxKeys: 4 }),
    fc.option(fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 6 }), { maxKeys: 2 }), { nil: undefined }),
  )
  .map(([tensors, metadata]) => serializeSafetensors(tensors, metadata));

const nasty: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    -1, 1.5, 2 ** 53, 2 ** 53 + 2, 1e308, "3", null, [], {}, [-1], [1.5], [2 ** 60], [0, -1], [1, 0], [0, 2 ** 64],
    [0, 0], [0, 1e6], "F64", "I8", "f32", "BOOL", "I64", [2 ** 26, 2 ** 26, 2 ** 26], [0, 2 ** 53 - 1],
  ),
  fc.array(fc.integer({ min: -2, max: 100 }), { maxLength: 4 }),
);

type Pairs = Array<[string, unknown]>;
interface Mutated {
  pairs?: Pairs;
  text?: string;
  data?: Uint8Array;
  lengthField?: bigint;
}
type Mutation = (pairs: Pairs, data: Uint8Array, text: string) => Mutated;

const tensorIndex = fc.nat();
const field = fc.constantFrom("dtype", "shape", "data_offsets", "extra");
const pick = (pairs: Pairs, i: number): number => (pairs.length === 0 ? -1 : i % pairs.length);
const entryOf = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(tensorIndex, field, nasty).map(([i, f, v]): Mutation => (pairs) => {
    const k = pick(pairs, i);
    if (k >= 0) pairs[k] = [pairs[k][0], { ...entryOf(pairs[k][1]), [f]: v }];
    return { pairs };
  }),
  fc.tuple(tensorIndex, field).map(([i, f]): Mutation => (pairs) => {
    const k = pick(pairs, i);
    if (k >= 0) {
      const e = entryOf(pairs[k][1]);
      delete e[f];
      pairs[k] = [pairs[k][0], e];
    }
    return { pairs };
  }),
  fc.tuple(tensorIndex, fc.integer({ min: -64, max: 64 }), fc.integer({ min: -64, max: 64 }), fc.boolean()).map(
    ([i, db, de, move]): Mutation => (pairs) => {
      const k = pick(pairs, i);
      const e = k >= 0 ? entryOf(pairs[k][1]) : undefined;
      if (e !== undefined && Array.isArray(e.data_offsets)) {
        const [b, end] = e.data_offsets as number[];
        pairs[k] = [pairs[k][0], { ...e, data_offsets: [b + db, end + (move ? db : de)] }];
      }
      return { pairs };
    },
  ),
  fc.jsonValue({ maxDepth: 3 }).map((v): Mutation => () => ({ text: JSON.stringify(v) ?? "" })),
  nasty.map((v): Mutation => (pairs) => ({ pairs: [["__metadata__", v], ...pairs.filter(([k]) => k !== "__metadata__")] })),
  fc.tuple(fc.constantFrom("__proto__", "constructor", "prototype", "__metadata__"), nasty, fc.boolean()).map(
    ([key, v, valid]): Mutation => (pairs) => ({
      pairs: [...pairs, [key, valid ? { dtype: "U8", shape: [0], data_offsets: [0, 0] } : v]],
    }),
  ),
  tensorIndex.map((i): Mutation => (pairs) => {
    const k = pick(pairs, i);
    return { pairs: k >= 0 ? [...pairs, pairs[k]] : pairs };
  }),
  fc.tuple(tensorIndex, tensorIndex).map(([i, j]): Mutation => (pairs) => {
    const [a, b] = [pick(pairs, i), pick(pairs, j)];
    if (a >= 0 && b >= 0) {
      const [ea, eb] = [entryOf(pairs[a][1]), entryOf(pairs[b][1])];
      pairs[a] = [pairs[a][0], { ...ea, data_offsets: eb.data_offsets, shape: eb.shape, dtype: eb.dtype }];
    }
    return { pairs };
  }),
  fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 600n })).map((n): Mutation => (pairs) => ({ pairs, lengthField: n })),
  fc.tuple(fc.integer({ min: -16, max: 16 }), fc.uint8Array({ maxLength: 16 })).map(([cut, extra]): Mutation => (pairs, data) => ({
    pairs,
    data: cut < 0 ? data.subarray(0, Math.max(0, data.length + cut)) : new Uint8Array([...data, ...extra.subarray(0, cut)]),
  })),
  fc.tuple(fc.nat(), fc.string({ unit: "binary", minLength: 1, maxLength: 3 })).map(([at, s]): Mutation => (_p, _d, text) => {
    const i = at % (text.length + 1);
    return { text: text.slice(0, i) + s + text.slice(i) };
  }),
);

function render(pairs: Pairs): string {
  return `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? "null"}`).join(",")}}`;
}

function expectOnlySafetensorsErrors(bytes: Uint8Array): void {
  expect(() => exercise(bytes)).not.toThrow();
}

describe("fuzz: malformed input only ever raises SafetensorsError", () => {
  it("random bytes (1000 runs)", TIMEOUT, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => expectOnlySafetensorsErrors(bytes)), { numRuns: 1000 });
  });

  it("random bytes behind a plausible header length (500 runs)", TIMEOUT, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.uint8Array({ maxLength: 64 }), (header, n, data) => {
        const text = new TextDecoder().decode(header);
        const bytes = assembleFile(text, data);
        const real = BigInt(bytes.length - 8);
        expectOnlySafetensorsErrors(bytes);
        expectOnlySafetensorsErrors(assembleFile(text, data, BigInt(n) % (real + 1n)));
      }),
      { numRuns: 500 },
    );
  });

  it("arbitrary JSON headers (500 runs)", TIMEOUT, () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 4 }), fc.nat({ max: 64 }), (json, size) => expectOnlySafetensorsErrors(assembleFile(json, size))),
      { numRuns: 500 },
    );
  });

  it("valid files with a mutated header, offsets, length field or data area (1500 runs)", TIMEOUT, () => {
    const codes = new Map<string, number>();
    fc.assert(
      fc.property(validFile, fc.array(mutation, { minLength: 1, maxLength: 2 }), (bytes, mutations) => {
        const { header, data } = splitFile(bytes);
        let pairs = Object.entries(JSON.parse(header) as Record<string, unknown>) as Pairs;
        let text = header;
        let body = data;
        let lengthField: bigint | undefined;
        for (const mutate of mutations) {
          const m = mutate(pairs, body, text);
          if (m.pairs !== undefined) text = render((pairs = m.pairs));
          if (m.text !== undefined) text = m.text;
          if (m.data !== undefined) body = m.data;
          if (m.lengthField !== undefined) lengthField = m.lengthField;
        }
        const code = exercise(assembleFile(text, body, lengthField));
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }),
      { numRuns: 1500 },
    );
    const expected = ["ok", "invalid_dtype", "invalid_shape", "invalid_offsets", "byte_length_mismatch", "overlapping_tensors"];
    expected.push("data_gap", "offset_out_of_range", "trailing_bytes", "duplicate_key", "invalid_metadata");
    for (const code of expected) {
      expect(codes.get(code) ?? 0, `mutations should produce ${code}`).toBeGreaterThan(0);
    }
    expect(codes.size).toBeGreaterThan(12);
  });

  it("flipped bytes in a small valid file (1000 runs)", TIMEOUT, () => {
    const bytes = serializeSafetensors(
      {
        w: { dtype: "F16", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
        ids: { dtype: "I64", shape: [2], data: new BigInt64Array([1n, 2n ** 40n]) },
        mask: { dtype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) },
      },
      { note: "fuzz" },
    );
    const headerEnd = 8 + splitFile(bytes).header.length;
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, xor, inHeader) => {
        const copy = bytes.slice();
        copy[inHeader ? at % headerEnd : at % copy.length] ^= xor;
        expectOnlySafetensorsErrors(copy);
      }),
      { numRuns: 1000 },
    );
  });

  it("every truncation and every short extension of a valid file is rejected", TIMEOUT, () => {
    const bytes = serializeSafetensors(
      { a: { dtype: "F32", shape: [3], data: new Float32Array(3) }, b: { dtype: "U8", shape: [5], data: new Uint8Array(5) } },
      { k: "v" },
    );
    expect(parseError(bytes)).toBeUndefined();
    for (let cut = 0; cut < bytes.length; cut++) {
      const error = parseError(bytes.subarray(0, cut));
      expect(error?.code, `cut at ${cut}`).toMatch(/^(header_too_small|header_length_out_of_range|offset_out_of_range)$/);
    }
    for (let extra = 1; extra <= 16; extra++) {
      const longer = new Uint8Array(bytes.length + extra);
      longer.set(bytes);
      expect(parseError(longer)?.code).toBe("trailing_bytes");
    }
  });
});
