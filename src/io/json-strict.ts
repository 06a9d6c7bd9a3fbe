/**
 * A strict RFC 8259 JSON parser for untrusted headers: objects become `Map`s (so `__proto__` is an
 * ordinary key), duplicate keys and lone surrogate escapes are errors, numbers keep their source
 * text (so `1.0` and `1` stay distinguishable), and nesting depth is bounded.
 */

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | Map<string, JsonValue>;

export class JsonNumber {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  get value(): number {
    return Number(this.text);
  }
  get isIntegerLiteral(): boolean {
    return /^-?(?:0|[1-9][0-9]*)$/.test(this.text);
  }
}

export type StrictJsonErrorKind = "syntax" | "duplicate_key" | "too_deep" | "too_many_values" | "key_too_long" | "too_many_root_members";

/**
 * Bounds on what a document may declare, checked while parsing (before the structures grow): a
 * small untrusted text must not become a large object graph.
 */
export interface StrictJsonLimits {
  /** Nesting depth (default 32). */
  readonly maxDepth?: number;
  /** JSON values in all, keys not counted (default unlimited). */
  readonly maxValues?: number;
  /** UTF-16 code units of an object key, after unescaping (default unlimited). */
  readonly maxKeyLength?: number;
  /** Members of the top-level object (default unlimited). */
  readonly maxRootMembers?: number;
}

export class StrictJsonError extends Error {
  readonly kind: StrictJsonErrorKind;
  readonly position: number;
  constructor(kind: StrictJsonErrorKind, message: string, position: number) {
    super(`${message} at character ${position}`);
    this.kind = kind;
    this.position = position;
  }
}

const NUMBER_PATTERN = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const LITERALS: ReadonlyArray<readonly [string, boolean | null]> = [
  ["true", true],
  ["false", false],
  ["null", null],
];
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

export function parseStrictJson(text: string, limits: StrictJsonLimits = {}): JsonValue {
  const maxDepth = limits.maxDepth ?? 32;
  const maxValues = limits.maxValues ?? Infinity;
  const maxKeyLength = limits.maxKeyLength ?? Infinity;
  const maxRootMembers = limits.maxRootMembers ?? Infinity;
  let pos = 0;
  let values = 0;

  const fail = (message: string, kind: StrictJsonErrorKind = "syntax"): never => {
    throw new StrictJsonError(kind, message, pos);
  };

  const skipWhitespace = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      pos++;
    }
  };

  const parseLiteral = (): boolean | null => {
    for (const [word, value] of LITERALS) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return value;
      }
    }
    return fail("unexpected token");
  };

  const readHex4 = (): number => {
    const hex = text.slice(pos, pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape");
    pos += 4;
    return parseInt(hex, 16);
  };

  const parseString = (): string => {
    pos++;
    let out = "";
    let chunkStart = pos;
    for (;;) {
      if (pos >= text.length) fail("unterminated string");
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(chunkStart, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail("control character in string");
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(chunkStart, pos);
      pos++;
      const e = text[pos];
      if (e === "u") {
        pos++;
        const unit = readHex4();
        if (unit >= 0xdc00 && unit <= 0xdfff) fail("lone low surrogate escape");
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (!text.startsWith("\\u", pos)) fail("lone high surrogate escape");
          pos += 2;
          const low = readHex4();
          if (low < 0xdc00 || low > 0xdfff) fail("lone high surrogate escape");
          out += String.fromCharCode(unit, low);
        } else {
          out += String.fromCharCode(unit);
        }
      } else if (e !== undefined && Object.hasOwn(SIMPLE_ESCAPES, e)) {
        out += SIMPLE_ESCAPES[e];
        pos++;
      } else {
        fail("bad escape");
      }
      chunkStart = pos;
    }
  };

  const parseNumber = (): JsonNumber => {
    NUMBER_PATTERN.lastIndex = pos;
    const match = NUMBER_PATTERN.exec(text);
    if (match === null) return fail("bad number");
    pos += match[0].length;
    return new JsonNumber(match[0]);
  };

  const parseValue = (depth: number): JsonValue => {
    if (++values > maxValues) fail(`more than ${maxValues} values`, "too_many_values");
    skipWhitespace();
    const c = text[pos];
    if (c === "{" || c === "[") {
      if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth}`, "too_deep");
      return c === "{" ? parseObject(depth + 1) : parseArray(depth + 1);
    }
    if (c === '"') return parseString();
    if (c === "t" || c === "f" || c === "n") return parseLiteral();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return parseNumber();
    return fail(c === undefined ? "unexpected end of input" : "unexpected character");
  };

  const parseArray = (depth: number): JsonValue[] => {
    pos++;
    const out: JsonValue[] = [];
    skipWhitespace();
    if (text[pos] === "]") {
      pos++;
      return out;
    }
    for (;;) {
      out.push(parseValue(depth));
      skipWhitespace();
      const c = text[pos++];
      if (c === "]") return out;
      if (c !== ",") fail("expected ',' or ']'");
    }
  };

  const parseObject = (depth: number): Map<string, JsonValue> => {
    pos++;
    const out = new Map<string, JsonValue>();
    skipWhitespace();
    if (text[pos] === "}") {
      pos++;
      return out;
    }
    for (;;) {
      skipWhitespace();
      if (text[pos] !== '"') fail("expected a string key");
      const keyStart = pos;
      if (depth === 1 && out.size >= maxRootMembers) fail(`more than ${maxRootMembers} members in the top-level object`, "too_many_root_members");
      const key = parseString();
      if (key.length > maxKeyLength) {
        pos = keyStart;
        fail(`a key of ${key.length} characters (${JSON.stringify(key.slice(0, 40))}…) is longer than ${maxKeyLength}`, "key_too_long");
      }
      if (out.has(key)) {
        pos = keyStart;
        fail(`duplicate key ${JSON.stringify(key)}`, "duplicate_key");
      }
      skipWhitespace();
      if (text[pos++] !== ":") fail("expected ':'");
      out.set(key, parseValue(depth));
      skipWhitespace();
      const c = text[pos++];
      if (c === "}") return out;
      if (c !== ",") fail("expected ',' or '}'");
    }
  };

  const value = parseValue(0);
  skipWhitespace();
  if (pos !== text.length) fail("trailing characters after JSON value");
  return value;
}
