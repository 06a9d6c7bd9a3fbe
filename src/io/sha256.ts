/**
 * Incremental SHA-256 (FIPS 180-4) in plain TypeScript, so a multi-hundred-megabyte download can be
 * verified chunk by chunk on any runtime (WebCrypto's `digest` only hashes one whole buffer).
 * Written for V8 speed: 32-bit integer arithmetic only, a reused message schedule, and whole
 * 64-byte blocks read straight out of the caller's chunk without copying.
 */

const ROUND_CONSTANTS = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const INITIAL_STATE = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

const BLOCK_BYTES = 64;

export class Sha256 {
  private readonly state = new Int32Array(INITIAL_STATE);
  private readonly schedule = new Int32Array(64);
  /** Holds the tail of the input that does not yet fill a whole block. */
  private readonly pending = new Uint8Array(BLOCK_BYTES);
  private pendingLength = 0;
  private totalBytes = 0;
  private finished = false;

  /** Feeds more input; returns this so calls can be chained. */
  update(data: Uint8Array): this {
    if (this.finished) throw new Error("Sha256.update called after digest");
    this.totalBytes += data.length;
    let offset = 0;
    if (this.pendingLength > 0) {
      const take = Math.min(BLOCK_BYTES - this.pendingLength, data.length);
      this.pending.set(data.subarray(0, take), this.pendingLength);
      this.pendingLength += take;
      offset = take;
      if (this.pendingLength < BLOCK_BYTES) return this;
      this.compressBlocks(this.pending, 0, BLOCK_BYTES);
      this.pendingLength = 0;
    }
    const wholeBlocksEnd = offset + Math.floor((data.length - offset) / BLOCK_BYTES) * BLOCK_BYTES;
    if (wholeBlocksEnd > offset) this.compressBlocks(data, offset, wholeBlocksEnd);
    if (wholeBlocksEnd < data.length) {
      this.pending.set(data.subarray(wholeBlocksEnd), 0);
      this.pendingLength = data.length - wholeBlocksEnd;
    }
    return this;
  }

  /** Finishes the hash and returns the 32-byte digest. The instance cannot be updated afterwards. */
  digest(): Uint8Array {
    if (this.finished) throw new Error("Sha256.digest called twice");
    const bitLength = this.totalBytes * 8;
    const paddingLength = this.pendingLength < 56 ? 64 - this.pendingLength : 128 - this.pendingLength;
    const padding = new Uint8Array(paddingLength);
    padding[0] = 0x80;
    const view = new DataView(padding.buffer);
    view.setUint32(paddingLength - 8, Math.floor(bitLength / 0x1_0000_0000));
    view.setUint32(paddingLength - 4, bitLength >>> 0);
    this.update(padding);
    this.finished = true;
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setInt32(i * 4, this.state[i]);
    return out;
  }

  /** Finishes the hash and returns it as 64 lowercase hex digits. */
  digestHex(): string {
    return bytesToHex(this.digest());
  }

  private compressBlocks(bytes: Uint8Array, start: number, end: number): void {
    const w = this.schedule;
    const k = ROUND_CONSTANTS;
    const s = this.state;
    let h0 = s[0], h1 = s[1], h2 = s[2], h3 = s[3], h4 = s[4], h5 = s[5], h6 = s[6], h7 = s[7];
    for (let p = start; p < end; p += BLOCK_BYTES) {
      for (let i = 0, j = p; i < 16; i++, j += 4) {
        w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
      }
      let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
      for (let i = 0; i < 64; i++) {
        if (i >= 16) {
          const x = w[i - 15];
          const y = w[i - 2];
          const sigma0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
          const sigma1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
          w[i] = (sigma1 + w[i - 7] + sigma0 + w[i - 16]) | 0;
        }
        const bigSigma1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const choose = g ^ (e & (f ^ g));
        const t1 = (h + bigSigma1 + choose + k[i] + w[i]) | 0;
        const bigSigma0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const majority = (a & b) | (c & (a | b));
        h = g;
        g = f;
        f = e;
        e = (d + t1) | 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + bigSigma0 + majority) | 0;
      }
      h0 = (h0 + a) | 0;
      h1 = (h1 + b) | 0;
      h2 = (h2 + c) | 0;
      h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0;
      h5 = (h5 + f) | 0;
      h6 = (h6 + g) | 0;
      h7 = (h7 + h) | 0;
    }
    s[0] = h0; s[1] = h1; s[2] = h2; s[3] = h3; s[4] = h4; s[5] = h5; s[6] = h6; s[7] = h7;
  }
}

/** One-shot SHA-256 of a whole buffer, as lowercase hex. */
export function sha256Hex(data: Uint8Array): string {
  return new Sha256().update(data).digestHex();
}

export function bytesToHex(bytes: Uint8Array): string {
  let hex = "";
  for (let i = 0; i < bytes.length; i++) hex += bytes[i].toString(16).padStart(2, "0");
  return hex;
}
