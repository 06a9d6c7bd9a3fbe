import {
  SafetensorsError,
  parseSafetensors,
  type ParseSafetensorsOptions,
  type SafetensorsFile,
} from "../../src/io/safetensors.ts";

const encoder = new TextEncoder();

/** A file from a raw header string and a data area; `lengthField` overrides the 8-byte prefix. */
export function assembleFile(header: string, data: Uint8Array | number = 0, lengthField?: bigint): Uint8Array {
  const json = encoder.encode(header);
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

export function splitFile(bytes: Uint8Array): { header: string; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: new TextDecoder().decode(bytes.subarray(8, 8 + n)), data: bytes.subarray(8 + n) };
}

export function parseError(bytes: Uint8Array, options?: ParseSafetensorsOptions): SafetensorsError | undefined {
  try {
    parseSafetensors(bytes, options);
    return undefined;
  } catch (error) {
    if (error instanceof SafetensorsError) return error;
    throw error;
  }
}

function tolerate(action: () => unknown): void {
  try {
    action();
  } catch (error) {
    if (!(error instanceof SafetensorsError)) throw error;
  }
}

/** Parses and reads every tensor every way: returns "ok" or the SafetensorsError code; rethrows anything else. */
export function exercise(bytes: Uint8Array): string {
  let file: SafetensorsFile;
  try {
    file = parseSafetensors(bytes);
  } catch (error) {
    if (error instanceof SafetensorsError) return error.code;
    throw error;
  }
  for (const name of file.names) {
    const info = file.info(name);
    if (file.getRaw(name).length !== info.byteLength) throw new Error(`getRaw length mismatch for ${name}`);
    tolerate(() => file.getFloat32(name));
    tolerate(() => file.getInt32(name));
  }
  return "ok";
}
