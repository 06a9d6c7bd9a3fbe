/**
 * Recognizing bytes that cannot be the file asked for — an HTML or JSON error page a mirror or
 * proxy answered 200 with — from the response's content type and the file's first bytes.
 */
import { DEFAULT_MAX_HEADER_BYTES } from "./safetensors-header.ts";

/** Bytes of a file's start that {@link cannotStart} looks at. */
export const SNIFF_BYTES = 16;

const BRACE = 0x7b;

function firstNonSpace(head: Uint8Array): number | undefined {
  for (const byte of head) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0xef && byte !== 0xbb && byte !== 0xbf) return byte;
  return undefined;
}

/**
 * Why `head` (the first up to SNIFF_BYTES bytes) cannot start `file`, or undefined when it can.
 * Markup (`<`) starts no model file; a .json file starts with `{`; a .safetensors file with an
 * 8-byte little-endian header length within the reader's limit, then `{`.
 */
export function cannotStart(file: string, head: Uint8Array): string | undefined {
  if (head.length === 0) return undefined;
  const first = firstNonSpace(head);
  if (first === 0x3c) return "it starts with '<' (an HTML or XML page)";
  if (file.endsWith(".json")) {
    return first === undefined || first === BRACE ? undefined : "a JSON object starts with '{'";
  }
  if (file.endsWith(".safetensors")) {
    if (head[0] === BRACE) return "it starts with '{' (a JSON document), not a safetensors header length";
    if (head.length >= 8) {
      const view = new DataView(head.buffer, head.byteOffset, 8);
      const length = view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true);
      if (length < 2 || length > DEFAULT_MAX_HEADER_BYTES) return `its first 8 bytes give a header length of ${length}, not a safetensors header's`;
    }
    if (head.length >= 9 && head[8] !== BRACE) return "a safetensors header (byte 8) starts with '{'";
  }
  return undefined;
}

/**
 * Why `head`, the first bytes of a response body, is an error page rather than `file`, or
 * undefined: markup for any file, a JSON document for a file that is not .json. (Other damage is
 * left to the hash or content check, which name it better.)
 */
export function errorPageStart(file: string, head: Uint8Array): string | undefined {
  const first = firstNonSpace(head);
  if (first === 0x3c) return "it starts with '<' (an HTML or XML page)";
  if (first === BRACE && !file.endsWith(".json")) return "it starts with '{' (a JSON document)";
  return undefined;
}

/**
 * True when a response's Content-Type says it is an error page rather than `file`: HTML for any
 * file, JSON for a file that is not .json.
 */
export function isErrorPageType(file: string, contentType: string | null): boolean {
  if (contentType === null) return false;
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (type === "text/html" || type === "application/xhtml+xml") return true;
  return (type === "application/json" || type.endsWith("+json")) && !file.endsWith(".json");
}

/** A short printable rendering of the first bytes, for error messages. */
export function describeHead(head: Uint8Array): string {
  const text = Array.from(head.subarray(0, SNIFF_BYTES), (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
  return JSON.stringify(text);
}
