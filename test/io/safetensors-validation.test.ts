import { describe, expect, it } from "vitest";
import { parseSafetensors, type ParseSafetensorsOptions } from "../../src/io/safetensors.ts";
import { assembleFile, parseError } from "./safetensors-test-helpers.ts";

const entry = (dtype: unknown, shape: unknown, offsets: unknown): string =>
  `{"dtype":${JSON.stringify(dtype)},"shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offsets)}}`;
const valid = entry("F32", [3, 4], [0, 48]);

function expectRejected(
  bytes: Uint8Array,
  code: string,
  tensor?: string,
  fragment?: string,
  options?: ParseSafetensorsOptions,
): void {
  const error = parseError(bytes, options);
  expect(error, `expected ${code}`).toBeDefined();
  expect(error!.code).toBe(code);
  expect(error!.tensor).toBe(tensor);
  if (tensor !== undefined) expect(error!.message).toContain(`tensor ${JSON.stringify(tensor)}`);
  if (fragment !== undefined) expect(error!.message).toContain(fragment);
}

describe("file framing", () => {
  it("rejects files shorter than the 8-byte length prefix", () => {
    for (const n of [0, 1, 7]) expectRejected(new Uint8Array(n), "header_too_small");
  });

  it("reads the u64 header length safely", () => {
    expectRejected(assembleFile("{}", 0, 2n ** 53n + 8n), "header_too_large", undefined, "2^53");
    expectRejected(assembleFile("{}", 0, 2n ** 64n - 1n), "header_too_large");
    expectRejected(assembleFile("{}", 0, 100_000_008n), "header_too_large");
    expect(parseSafetensors(assembleFile("{}      "), { maxHeaderBytes: 8 }).names).toEqual([]);
    expectRejected(assembleFile("{}      "), "header_too_large", undefined, "limit of 7", { maxHeaderBytes: 7 });
    expectRejected(assembleFile("{}"), "invalid_option", undefined, "maxHeaderBytes", { maxHeaderBytes: -1 });
  });

  it("rejects a header length that runs past the end of the file", () => {
    expectRejected(assembleFile("{}", 0, 3n), "header_length_out_of_range");
    expectRejected(assembleFile(`{"t":${valid}}`, 48, 10_000n), "header_length_out_of_range");
  });
});

describe("header text", () => {
  it("must be UTF-8", () => {
    const bytes = assembleFile("{ }");
    bytes[9] = 0xff;
    expectRejected(bytes, "invalid_header_utf8");
  });

  it.each(["[]", "null", "3", '"x"', " {}", "\uFEFF{}", ""])("must start with '{' (%j)", (header) => {
    expectRejected(assembleFile(header), "invalid_header_start");
  });

  it.each(["{", '{"a":1,}', "{} x", '{"a":NaN}', "{'a':1}", '{"a\u0001":1}', '{"\\ud800":1}', '{"a":01}', "{}\u0000"])(
    "must be valid JSON (%j)",
    (header) => expectRejected(assembleFile(header), "invalid_header_json"),
  );

  it("rejects absurd nesting without overflowing the stack", () => {
    expectRejected(assembleFile(`{"a":${"[".repeat(200_000)}`), "invalid_header_json", undefined, "nesting");
  });

  it("accepts trailing whitespace (the writers pad with spaces)", () => {
    expect(parseSafetensors(assembleFile("{} \n\t\r    ")).names).toEqual([]);
  });

  it.each([
    `{"t":${valid},"t":${valid}}`,
    '{"__metadata__":{"a":"1","a":"2"}}',
    `{"t":{"dtype":"F32","dtype":"F32","shape":[3,4],"data_offsets":[0,48]}}`,
  ])("rejects duplicate keys (%s)", (header) => {
    expectRejected(assembleFile(header, 48), "duplicate_key");
  });
});

describe("__metadata__", () => {
  it.each(['[]', "null", '"x"', '{"k":1}', '{"k":{"x":"y"}}', '{"k":null}'])("must be an object of strings (%s)", (meta) => {
    expectRejected(assembleFile(`{"__metadata__":${meta}}`), "invalid_metadata");
  });

  it("keeps metadata key order and tolerates prototype-looking keys", () => {
    const file = parseSafetensors(assembleFile('{"__metadata__":{"z":"1","__proto__":"2","a":"3"}}'));
    expect(Object.keys(file.metadata)).toEqual(["z", "__proto__", "a"]);
    expect(Object.isFrozen(file.metadata)).toBe(true);
  });
});

describe("tensor entries", () => {
  const file = (tensor: string, data = 48) => assembleFile(`{"t":${tensor}}`, data);

  it.each(["[]", '"x"', "null", '{"dtype":"F32","shape":[3,4]}', `{"dtype":"F32","shape":[3,4],"data_offsets":[0,48],"extra":1}`])(
    "must be an object with exactly dtype, shape, data_offsets (%s)",
    (tensor) => expectRejected(file(tensor), "invalid_tensor_entry", "t"),
  );

  it.each(["f32", "float32", "", 1, null])("rejects unknown dtype %j", (dtype) => {
    expectRejected(file(entry(dtype, [3, 4], [0, 48])), "invalid_dtype", "t");
  });

  it.each(["F64", "I8", "U16", "F8_E4M3"])("rejects valid but unsupported dtype %s", (dtype) => {
    expectRejected(file(entry(dtype, [48], [0, 48])), "unsupported_dtype", "t", dtype);
  });

  it.each(["[-1]", "[1.5]", "[1e2]", "[1.0]", '"3"', "[[3]]", "[9007199254740993]", "null", "{}", "[-0]"])(
    "rejects shape %s",
    (shape) => expectRejected(file(`{"dtype":"U8","shape":${shape},"data_offsets":[0,3]}`, 3), "invalid_shape", "t"),
  );

  it.each(["[0]", "[0,48,96]", "[-1,47]", "[48,0]", "[0.0,48]", '["0","48"]', "[0,18446744073709551616]", "null"])(
    "rejects data_offsets %s",
    (offsets) => expectRejected(file(`{"dtype":"F32","shape":[3,4],"data_offsets":${offsets}}`), "invalid_offsets", "t"),
  );

  it("rejects shapes whose element count overflows, without allocating", () => {
    expectRejected(file(entry("F32", [2 ** 26, 2 ** 26, 2 ** 26], [0, 48])), "shape_overflow", "t");
    expectRejected(file(entry("I64", [2 ** 26, 2 ** 26], [0, 48])), "shape_overflow", "t");
    expectRejected(file(entry("F32", [2 ** 40, 0], [0, 48])), "byte_length_mismatch", "t");
  });

  it("names the tensor, offsets, shape and dtype when the byte length is wrong", () => {
    const bytes = assembleFile(`{"h.0.attn.c_attn.weight":${entry("F32", [3, 4], [0, 100])}}`, 100);
    expectRejected(
      bytes,
      "byte_length_mismatch",
      "h.0.attn.c_attn.weight",
      'tensor "h.0.attn.c_attn.weight": data_offsets [0, 100] hold 100 bytes but shape [3,4] of F32 needs 48',
    );
  });
});

describe("data layout (rules of the Rust crate's Metadata::validate)", () => {
  it("rejects a tensor ending past the data area", () => {
    expectRejected(assembleFile(`{"t":${valid}}`, 40), "offset_out_of_range", "t", "40 bytes");
  });

  it("rejects overlapping tensors, naming both", () => {
    const header = `{"a":${valid},"b":${entry("F32", [12], [24, 72])}}`;
    expectRejected(assembleFile(header, 72), "overlapping_tensors", "b", 'tensor "a"');
    expectRejected(assembleFile(`{"a":${valid},"b":${valid}}`, 48), "overlapping_tensors", "b");
  });

  it("rejects holes, including one before the first tensor", () => {
    expectRejected(assembleFile(`{"t":${entry("F32", [3, 4], [4, 52])}}`, 52), "data_gap", "t");
    const header = `{"a":${valid},"b":${entry("U8", [4], [52, 56])}}`;
    expectRejected(assembleFile(header, 56), "data_gap", "b", 'tensor "a" ends at 48');
  });

  it("rejects trailing bytes after the last tensor", () => {
    expectRejected(assembleFile(`{"t":${valid}}`, 49), "trailing_bytes", undefined, "1 trailing");
    expectRejected(assembleFile("{}", 1), "trailing_bytes");
  });

  it("accepts empty tensors sharing an offset, and an all-empty file", () => {
    const header = `{"e1":${entry("F32", [0], [0, 0])},"t":${valid},"e2":${entry("I64", [2, 0], [48, 48])},"e3":${entry("U8", [0], [0, 0])}}`;
    const parsed = parseSafetensors(assembleFile(header, 48));
    expect(parsed.names).toEqual(["e1", "e3", "t", "e2"]);
  });
});

describe("prototype safety", () => {
  it("treats a tensor literally named __proto__ as an ordinary tensor", () => {
    const parsed = parseSafetensors(
      assembleFile(`{"__proto__":${entry("U8", [1], [0, 1])},"constructor":${entry("U8", [1], [1, 2])}}`, new Uint8Array([5, 6])),
    );
    expect(parsed.names).toEqual(["__proto__", "constructor"]);
    expect([...parsed.getInt32("__proto__")]).toEqual([5]);
    expect(parsed.info("__proto__").byteOffset).toBe(0);
  });

  it("never lets header keys reach Object.prototype", () => {
    const header = '{"__proto__":{"polluted":"yes"},"__metadata__":{"__proto__":"x"}}';
    expectRejected(assembleFile(header), "invalid_tensor_entry", "__proto__");
    parseSafetensors(assembleFile('{"__metadata__":{"__proto__":"x","polluted":"yes"}}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
  });

  it("decodes escaped names", () => {
    const parsed = parseSafetensors(assembleFile(`{"a\\u0062\\ud83d\\ude00\\n":${entry("U8", [], [0, 1])}}`, 1));
    expect(parsed.names).toEqual(["ab\u{1F600}\n"]);
  });
});
