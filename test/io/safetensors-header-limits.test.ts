/**
 * A header may declare at most HEADER_LIMITS: tensors, key length, JSON values in all. Checked while
 * parsing, so a 100 MB header of empty tensors fails fast instead of becoming gigabytes of objects.
 */
import { describe, expect, it } from "vitest";
import { HEADER_LIMITS } from "../../src/io/safetensors-header.ts";
import { parseSafetensors } from "../../src/io/safetensors.ts";
import { assembleFile, parseError } from "./safetensors-test-helpers.ts";

const empty = `{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`;
const emptyTensors = (count: number, name = (i: number) => `t${i}`): string => {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(`${JSON.stringify(name(i))}:${empty}`);
  return `{${parts.join(",")}}`;
};

function expectCode(header: string, code: string, fragment: string): void {
  const error = parseError(assembleFile(header));
  expect(error?.code, error?.message).toBe(code);
  expect(error!.message).toContain(fragment);
}

describe("safetensors header limits", () => {
  it("are far above a real checkpoint's (GPT-2 XL: 582 tensors, keys under 40 characters)", () => {
    expect(HEADER_LIMITS).toEqual({ maxTensors: 65_536, maxKeyLength: 1_024, maxValues: 1_048_576 });
  });

  it("accept exactly the tensor limit, with metadata, and refuse one more (too_many_tensors)", { timeout: 30_000 }, () => {
    const file = parseSafetensors(assembleFile(emptyTensors(HEADER_LIMITS.maxTensors).replace("{", `{"__metadata__":{"format":"pt"},`)));
    expect(file.names.length).toBe(HEADER_LIMITS.maxTensors);
    expectCode(emptyTensors(HEADER_LIMITS.maxTensors + 1), "too_many_tensors", "the limit of 65536 tensors");
  });

  it("refuse the 99.9 MB header of 1.71 M empty tensors before parsing all of it", { timeout: 30_000 }, () => {
    const header = emptyTensors(1_710_000, (i) => i.toString(36));
    expect(header.length).toBeGreaterThan(95_000_000);
    const t0 = performance.now();
    expectCode(header, "too_many_tensors", "65536");
    // Only the first 65,537 entries are parsed (parsing all took ~10 s and 2.5 GB).
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it("refuse a key longer than 1,024 characters (key_too_long), tensor names and metadata keys alike", () => {
    const ok = "k".repeat(HEADER_LIMITS.maxKeyLength);
    expect(parseSafetensors(assembleFile(`{${JSON.stringify(ok)}:${empty}}`)).names).toEqual([ok]);
    expectCode(`{${JSON.stringify(ok + "k")}:${empty}}`, "key_too_long", "limit 1024");
    expectCode(`{"__metadata__":{${JSON.stringify(ok + "k")}:"x"},"t":${empty}}`, "key_too_long", "1025 characters");
  });

  it("refuse a header of more than 2^20 JSON values (header_too_complex), e.g. a shape of 2 M dimensions", () => {
    const dims = new Array(2_000_000).fill("1").join(",");
    expectCode(`{"t":{"dtype":"F32","shape":[${dims}],"data_offsets":[0,4]}}`, "header_too_complex", "1048576");
  });
});
