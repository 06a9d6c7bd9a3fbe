import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  SafetensorsError,
  parseSafetensors,
  serializeSafetensors,
  type SafetensorsDType,
  type TensorToWrite,
} from "../../src/io/safetensors.ts";
import { float32BitsToBfloat16Bits, float32BitsToHalfBits, halfBitsToFloat32Bits } from "../../src/io/float16.ts";
import { assembleFile, splitFile } from "./safetensors-test-helpers.ts";

const encoder = new TextEncoder();
const bytesOf = (a: ArrayBufferView): number[] => [...new Uint8Array(a.buffer, a.byteOffset, a.byteLength)];
const f32Bits = (a: Float32Array): number[] => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

function expectCode(action: () => unknown, code: string, tensor?: string): SafetensorsError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as SafetensorsError).code).toBe(code);
    if (tensor !== undefined) expect((error as SafetensorsError).tensor).toBe(tensor);
    return error as SafetensorsError;
  }
  throw new Error(`expected SafetensorsError ${code}`);
}

describe("writer output matches the reference Rust crate's own unit tests", () => {
  const floats = new Float32Array([0, 1, 2, 3, 4, 5]);

  it("writes a compact header whose length is already a multiple of 8 without padding", () => {
    const out = serializeSafetensors({ "attn.0": { dtype: "F32", shape: [1, 2, 3], data: floats } });
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(header.length).toBe(64);
    expect([...out]).toEqual([64, 0, 0, 0, 0, 0, 0, 0, ...encoder.encode(header), ...bytesOf(floats)]);
  });

  it("pads the header with spaces to 8-byte alignment", () => {
    const out = serializeSafetensors({ attn0: { dtype: "F32", shape: [1, 1, 2, 3], data: floats } });
    const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ';
    expect([...out]).toEqual([72, 0, 0, 0, 0, 0, 0, 0, ...encoder.encode(header), ...bytesOf(floats)]);
  });

  it("writes an empty file and an empty file with metadata", () => {
    expect([...serializeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...encoder.encode("{}      ")]);
    const withMeta = serializeSafetensors({}, { framework: "pt" });
    expect(splitFile(withMeta).header).toBe('{"__metadata__":{"framework":"pt"}}     ');
    expect(withMeta.length).toBe(48);
    expect(parseSafetensors(withMeta).metadata).toEqual({ framework: "pt" });
  });

  it("orders tensors by dtype (I64, F32, I32, BF16, F16, U8, BOOL) then by UTF-8 name bytes", () => {
    const one = (dtype: SafetensorsDType): TensorToWrite => ({
      dtype,
      shape: [1],
      data:
        dtype === "F32" || dtype === "F16" || dtype === "BF16"
          ? new Float32Array(1)
          : dtype === "I32" || dtype === "I64"
            ? new Int32Array(1)
            : new Uint8Array(1),
    });
    const file = parseSafetensors(
      serializeSafetensors({
        b: one("BOOL"),
        a: one("U8"),
        z: one("F16"),
        y: one("BF16"),
        x: one("I32"),
        "\u{1F600}": one("F32"),
        "\uFFFF": one("F32"),
        w: one("F32"),
        v: one("I64"),
      }),
    );
    expect(file.names).toEqual(["v", "w", "\uFFFF", "\u{1F600}", "x", "y", "z", "a", "b"]);
  });
});

describe("round trips for every dtype", () => {
  it("F32 keeps every bit, including NaN payloads and -0", () => {
    const data = new Float32Array(new Uint32Array([0x7fc00001, 0x80000000, 0x7f800000, 0x00000001, 0x3f800000, 0xff812345]).buffer);
    const file = parseSafetensors(serializeSafetensors({ t: { dtype: "F32", shape: [2, 3], data } }));
    expect(file.info("t")).toEqual({ name: "t", dtype: "F32", shape: [2, 3], byteOffset: 0, byteLength: 24 });
    expect(f32Bits(file.getFloat32("t"))).toEqual(f32Bits(data));
    expectCode(() => file.getInt32("t"), "wrong_dtype", "t");
  });

  it.each(["F16", "BF16"] as const)("%s from Float32Array rounds, from Uint16Array is raw", (dtype) => {
    const values = new Float32Array([1, -2.5, 0.1, 65504, 70000, 2 ** -24, -0, Infinity, NaN, 1e-40]);
    const narrow = dtype === "F16" ? float32BitsToHalfBits : float32BitsToBfloat16Bits;
    const expectedBits = new Uint16Array(f32Bits(values).map(narrow));
    const raw = new Uint16Array([0x0001, 0x7c01, 0xfe00, 0x3c00]);
    const file = parseSafetensors(
      serializeSafetensors({
        rounded: { dtype, shape: [values.length], data: values },
        raw: { dtype, shape: [2, 2], data: raw },
      }),
    );
    expect(file.getRaw("rounded")).toEqual(new Uint8Array(expectedBits.buffer));
    expect(file.getRaw("raw")).toEqual(new Uint8Array(raw.buffer));
    const widen = dtype === "F16" ? halfBitsToFloat32Bits : (b: number) => (b << 16) >>> 0;
    expect(f32Bits(file.getFloat32("rounded"))).toEqual([...expectedBits].map(widen));
    expect(f32Bits(file.getFloat32("raw"))).toEqual([...raw].map(widen));
    expectCode(() => file.getInt32("raw"), "wrong_dtype", "raw");
  });

  it("I32, I64 (from BigInt64Array or widened Int32Array), U8 and BOOL", () => {
    const i32 = new Int32Array([-(2 ** 31), -1, 0, 2 ** 31 - 1]);
    const file = parseSafetensors(
      serializeSafetensors({
        i32: { dtype: "I32", shape: [4], data: i32 },
        i64: { dtype: "I64", shape: [2, 2], data: new BigInt64Array([-(2n ** 31n), -1n, 0n, 2n ** 31n - 1n]) },
        widened: { dtype: "I64", shape: [4], data: i32 },
        big: { dtype: "I64", shape: [3], data: new BigInt64Array([1n, 2n ** 31n, 3n]) },
        small: { dtype: "I64", shape: [1], data: new BigInt64Array([-(2n ** 31n) - 1n]) },
        u8: { dtype: "U8", shape: [3], data: new Uint8Array([0, 128, 255]) },
        mask: { dtype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) },
      }),
    );
    expect([...file.getInt32("i32")]).toEqual([...i32]);
    expect([...file.getInt32("i64")]).toEqual([...i32]);
    expect(file.getRaw("widened")).toEqual(file.getRaw("i64"));
    const err = expectCode(() => file.getInt32("big"), "int_out_of_range", "big");
    expect(err.message).toContain("2147483648");
    expectCode(() => file.getInt32("small"), "int_out_of_range", "small");
    expect([...file.getInt32("u8")]).toEqual([0, 128, 255]);
    expect([...file.getInt32("mask")]).toEqual([1, 0, 1]);
    for (const name of ["i32", "i64", "u8", "mask"]) expectCode(() => file.getFloat32(name), "wrong_dtype", name);
  });

  it("scalars (shape []) and empty tensors of every dtype", () => {
    const tensors: Record<string, TensorToWrite> = {};
    const data = (dtype: SafetensorsDType, n: number): TensorToWrite["data"] =>
      dtype === "I32" ? new Int32Array(n).fill(7) : dtype === "I64" ? new BigInt64Array(n).fill(7n)
        : dtype === "U8" || dtype === "BOOL" ? new Uint8Array(n).fill(1) : new Float32Array(n).fill(7);
    const dtypes: SafetensorsDType[] = ["F32", "F16", "BF16", "I32", "I64", "U8", "BOOL"];
    for (const dtype of dtypes) {
      tensors[`${dtype}.scalar`] = { dtype, shape: [], data: data(dtype, 1) };
      tensors[`${dtype}.empty`] = { dtype, shape: [0], data: data(dtype, 0) };
      tensors[`${dtype}.empty3d`] = { dtype, shape: [2, 0, 3], data: data(dtype, 0) };
    }
    const file = parseSafetensors(serializeSafetensors(tensors));
    expect([...file.names].sort()).toEqual(Object.keys(tensors).sort());
    for (const dtype of dtypes) {
      const isFloat = dtype === "F32" || dtype === "F16" || dtype === "BF16";
      const read = (n: string) => (isFloat ? file.getFloat32(n) : file.getInt32(n));
      expect(file.info(`${dtype}.scalar`).shape).toEqual([]);
      expect([...read(`${dtype}.scalar`)]).toEqual([dtype === "U8" || dtype === "BOOL" ? 1 : 7]);
      expect(read(`${dtype}.empty`).length).toBe(0);
      expect(file.info(`${dtype}.empty3d`)).toMatchObject({ shape: [2, 0, 3], byteLength: 0 });
      expect(read(`${dtype}.empty3d`).length).toBe(0);
    }
  });

  it("names an unknown tensor in a missing_tensor error", () => {
    const file = parseSafetensors(serializeSafetensors({ a: { dtype: "U8", shape: [1], data: new Uint8Array(1) } }));
    expect(file.has("a")).toBe(true);
    expect(file.has("b")).toBe(false);
    for (const call of [() => file.info("b"), () => file.getRaw("b"), () => file.getFloat32("b"), () => file.getInt32("b")]) {
      expect(expectCode(call, "missing_tensor", "b").message).toContain('"b"');
    }
  });
});

describe("views and copies", () => {
  const tensors: Record<string, TensorToWrite> = {
    f: { dtype: "F32", shape: [3], data: new Float32Array([1, 2, 3]) },
    i: { dtype: "I32", shape: [2], data: new Int32Array([-4, 5]) },
  };

  it("returns zero-copy F32/I32 views when the data is 4-byte aligned", () => {
    const bytes = serializeSafetensors(tensors);
    const file = parseSafetensors(bytes);
    const f = file.getFloat32("f");
    expect(f.buffer).toBe(bytes.buffer);
    expect(file.getInt32("i").buffer).toBe(bytes.buffer);
    expect(file.getRaw("f").buffer).toBe(bytes.buffer);
    bytes[8 + (bytes.length - 8 - 20) + 3] ^= 0x80;
    expect(f[0]).toBe(-1);
  });

  it("copies when the input sits at an unaligned offset, with the same values", () => {
    const bytes = serializeSafetensors(tensors);
    const shifted = new Uint8Array(new ArrayBuffer(bytes.length + 1), 1);
    shifted.set(bytes);
    const file = parseSafetensors(shifted);
    expect([...file.getFloat32("f")]).toEqual([1, 2, 3]);
    expect([...file.getInt32("i")]).toEqual([-4, 5]);
    expect(file.getFloat32("f").buffer).not.toBe(shifted.buffer);
  });
});

describe("prototype-looking names and keys are ordinary strings", () => {
  it("round-trips tensors and metadata named __proto__, constructor, toString", () => {
    const tensors = new Map<string, TensorToWrite>([
      ["__proto__", { dtype: "U8", shape: [1], data: new Uint8Array([1]) }],
      ["constructor", { dtype: "U8", shape: [1], data: new Uint8Array([2]) }],
      ["toString", { dtype: "U8", shape: [1], data: new Uint8Array([3]) }],
    ]);
    const metadata = JSON.parse('{"__proto__":"p","constructor":"c","hasOwnProperty":"h"}') as Record<string, string>;
    const file = parseSafetensors(serializeSafetensors(tensors, metadata));
    expect(file.names).toEqual(["__proto__", "constructor", "toString"]);
    expect([...file.getInt32("__proto__")]).toEqual([1]);
    expect(file.info("constructor").name).toBe("constructor");
    expect(file.has("valueOf")).toBe(false);
    expect(Object.getPrototypeOf(file.metadata)).toBe(null);
    expect(Object.keys(file.metadata)).toEqual(["__proto__", "constructor", "hasOwnProperty"]);
    expect(file.metadata["__proto__"]).toBe("p");
    expect(({} as Record<string, unknown>).p).toBeUndefined();
  });

  it("a Map and a record give identical bytes", () => {
    const t: TensorToWrite = { dtype: "I32", shape: [1], data: new Int32Array([9]) };
    expect(serializeSafetensors(new Map([["b", t], ["a", t]]))).toEqual(serializeSafetensors({ a: t, b: t }));
  });
});

describe("writer rejects bad input with typed errors", () => {
  const u8 = new Uint8Array(2);
  it.each([
    ["reserved_name", { __metadata__: { dtype: "U8", shape: [2], data: u8 } }],
    ["invalid_dtype", { t: { dtype: "F64", shape: [2], data: u8 } }],
    ["invalid_shape", { t: { dtype: "U8", shape: [-2], data: u8 } }],
    ["invalid_shape", { t: { dtype: "U8", shape: [1.5], data: u8 } }],
    ["shape_overflow", { t: { dtype: "U8", shape: [2 ** 30, 2 ** 30], data: u8 } }],
    ["data_length_mismatch", { t: { dtype: "U8", shape: [3], data: u8 } }],
    ["wrong_data_type", { t: { dtype: "F32", shape: [2], data: new Int32Array(2) } }],
    ["wrong_data_type", { t: { dtype: "I32", shape: [2], data: new Float32Array(2) } }],
    ["wrong_data_type", { t: { dtype: "I64", shape: [2], data: new Float32Array(2) } }],
    ["wrong_data_type", { t: { dtype: "U8", shape: [2], data: new Uint16Array(2) } }],
    ["invalid_bool", { t: { dtype: "BOOL", shape: [2], data: new Uint8Array([1, 2]) } }],
    ["invalid_string", { "bad\uD800name": { dtype: "U8", shape: [2], data: u8 } }],
  ])("%s", (code, tensors) => {
    expectCode(() => serializeSafetensors(tensors as Record<string, TensorToWrite>), code);
  });

  it("rejects non-string or ill-formed metadata", () => {
    expectCode(() => serializeSafetensors({}, { a: 1 } as unknown as Record<string, string>), "invalid_metadata");
    expectCode(() => serializeSafetensors({}, { a: "\uDC00" }), "invalid_string");
  });
});

describe("reader takes tensors in offset order whatever the header order", () => {
  it("lists names by data offset, not header position", () => {
    const header = JSON.stringify({
      second: { dtype: "U8", shape: [2], data_offsets: [1, 3] },
      __metadata__: { k: "v" },
      empty: { dtype: "F32", shape: [0], data_offsets: [0, 0] },
      first: { dtype: "U8", shape: [], data_offsets: [0, 1] },
    });
    const file = parseSafetensors(assembleFile(header, new Uint8Array([10, 20, 30])));
    expect(file.names).toEqual(["empty", "first", "second"]);
    expect([...file.getInt32("second")]).toEqual([20, 30]);
    expect(file.metadata).toEqual({ k: "v" });
  });
});

const DTYPES: SafetensorsDType[] = ["F32", "F16", "BF16", "I32", "I64", "U8", "BOOL"];
const RANK: Record<SafetensorsDType, number> = { I64: 6, F32: 5, I32: 4, BF16: 3, F16: 2, U8: 1, BOOL: 0 };

const tensorArb: fc.Arbitrary<TensorToWrite> = fc
  .tuple(fc.constantFrom(...DTYPES), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }))
  .chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data: fc.Arbitrary<TensorToWrite["data"]> =
      dtype === "F32" ? fc.float32Array({ minLength: n, maxLength: n })
      : dtype === "F16" || dtype === "BF16"
        ? fc.oneof(fc.float32Array({ minLength: n, maxLength: n }), fc.uint16Array({ minLength: n, maxLength: n }))
      : dtype === "I32" ? fc.int32Array({ minLength: n, maxLength: n })
      : dtype === "I64"
        ? fc.oneof(fc.bigInt64Array({ minLength: n, maxLength: n }), fc.int32Array({ minLength: n, maxLength: n }))
      : dtype === "U8" ? fc.uint8Array({ minLength: n, maxLength: n })
      : fc.uint8Array({ minLength: n, maxLength: n, max: 1 });
    return data.map((d) => ({ dtype, shape, data: d }));
  });

const nameArb = fc.string({ unit: "binary", maxLength: 12 }).filter((s) => s !== "__metadata__");

function compareUtf8(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function rawAsWritable(dtype: SafetensorsDType, raw: Uint8Array): TensorToWrite["data"] {
  const copy = new Uint8Array(raw).buffer;
  if (dtype === "I64") return new BigInt64Array(copy);
  if (dtype === "I32") return new Int32Array(copy);
  if (dtype === "F32") return new Float32Array(copy);
  if (dtype === "F16" || dtype === "BF16") return new Uint16Array(copy);
  return raw;
}

describe("property: serialize then parse is lossless", () => {
  it("keeps names, layout order, shapes, bytes and metadata; rewriting is byte-identical", () => {
    fc.assert(
      fc.property(
        fc.dictionary(nameArb, tensorArb, { maxKeys: 6 }),
        fc.option(fc.dictionary(fc.string({ unit: "binary", maxLength: 8 }), fc.string({ unit: "binary" }), { maxKeys: 4 }), { nil: undefined }),
        (tensors, metadata) => {
          const bytes = serializeSafetensors(tensors, metadata);
          const { header } = splitFile(bytes);
          const headerBytes = encoder.encode(header).length;
          expect(headerBytes % 8).toBe(0);
          expect(headerBytes - encoder.encode(header.trimEnd()).length).toBeLessThan(8);
          const file = parseSafetensors(bytes);
          const expectedOrder = Object.keys(tensors).sort(
            (a, b) => RANK[tensors[b].dtype] - RANK[tensors[a].dtype] || compareUtf8(a, b),
          );
          expect(file.names).toEqual(expectedOrder);
          expect({ ...file.metadata }).toEqual(metadata ?? {});
          const rewritten = new Map<string, TensorToWrite>();
          for (const name of file.names) {
            const t = tensors[name];
            const info = file.info(name);
            expect(info.dtype).toBe(t.dtype);
            expect(info.shape).toEqual(t.shape);
            const raw = file.getRaw(name);
            if (t.dtype !== "F16" && t.dtype !== "BF16" && !(t.dtype === "I64" && t.data instanceof Int32Array)) {
              expect(bytesOf(raw)).toEqual(bytesOf(t.data));
            }
            if (t.dtype === "I64" && t.data instanceof Int32Array) expect([...file.getInt32(name)]).toEqual([...t.data]);
            if (t.dtype === "F32") expect(f32Bits(file.getFloat32(name))).toEqual(f32Bits(t.data as Float32Array));
            rewritten.set(name, { dtype: info.dtype, shape: info.shape, data: rawAsWritable(info.dtype, raw) });
          }
          expect(serializeSafetensors(rewritten, metadata)).toEqual(bytes);
        },
      ),
      { numRuns: 300 },
    );
  });
});
