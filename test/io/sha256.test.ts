import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import { Sha256, sha256Hex } from "../../src/io/sha256.ts";

const ascii = (text: string) => new TextEncoder().encode(text);
const nodeSha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("Sha256", () => {
  it("matches the FIPS 180 test vectors", () => {
    expect(sha256Hex(ascii(""))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex(ascii("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex(ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
    const million = new Uint8Array(1_000_000).fill(0x61);
    expect(sha256Hex(million)).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });

  it("handles every length around the padding boundaries", () => {
    const bytes = new Uint8Array(200).map((_, i) => (i * 31 + 7) & 0xff);
    for (let length = 0; length <= 200; length++) {
      expect(sha256Hex(bytes.subarray(0, length))).toBe(nodeSha256(bytes.subarray(0, length)));
    }
  });

  test.prop([fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat({ max: 3000 }), { maxLength: 6 })])(
    "gives the same digest however the input is split into chunks",
    (data, cuts) => {
      const hash = new Sha256();
      let previous = 0;
      for (const cut of [...cuts].sort((a, b) => a - b)) {
        hash.update(data.subarray(previous, Math.max(previous, Math.min(cut, data.length))));
        previous = Math.max(previous, Math.min(cut, data.length));
      }
      hash.update(data.subarray(previous));
      expect(hash.digestHex()).toBe(nodeSha256(data));
    },
  );

  it("refuses reuse after digest", () => {
    const hash = new Sha256().update(ascii("x"));
    hash.digest();
    expect(() => hash.update(ascii("y"))).toThrow();
    expect(() => hash.digest()).toThrow();
  });
});
