/**
 * A tiny, strict XML well-formedness checker for tests (no dependencies): parses markup into a tree and
 * throws on unbalanced or mismatched tags, bad names, duplicate or unquoted attributes, raw "<" or stray
 * "&" in text or attribute values, unknown entities, characters XML forbids, or more than one root.
 * Supports elements, attributes, text, comments and a leading XML declaration; not DTDs or CDATA.
 */

export interface XmlElement {
  readonly name: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: readonly (XmlElement | string)[];
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_.:]*/;
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

interface MutableElement {
  name: string;
  attributes: Map<string, string>;
  children: (MutableElement | string)[];
}

/** Parse a complete XML document (one root element) or throw an Error describing the first problem. */
export function parseXml(source: string): XmlElement {
  const forbidden = FORBIDDEN.exec(source);
  if (forbidden) throw new Error(`forbidden character U+${forbidden[0].charCodeAt(0).toString(16)} at ${forbidden.index}`);
  let pos = 0;
  if (source.startsWith("<?xml")) {
    const end = source.indexOf("?>");
    if (end < 0) throw new Error("unterminated XML declaration");
    pos = end + 2;
  }
  const stack: MutableElement[] = [];
  let root: MutableElement | undefined;

  while (pos < source.length) {
    const lt = source.indexOf("<", pos);
    const textEnd = lt < 0 ? source.length : lt;
    if (textEnd > pos) {
      const text = decodeEntities(source.slice(pos, textEnd), pos);
      if (stack.length > 0) stack[stack.length - 1].children.push(text);
      else if (text.trim() !== "") throw new Error(`text outside the root element at ${pos}`);
      pos = textEnd;
      continue;
    }
    if (source.startsWith("<!--", pos)) {
      const end = source.indexOf("-->", pos + 4);
      if (end < 0) throw new Error(`unterminated comment at ${pos}`);
      pos = end + 3;
      continue;
    }
    if (source.startsWith("</", pos)) {
      const match = NAME.exec(source.slice(pos + 2));
      if (!match) throw new Error(`bad closing tag at ${pos}`);
      const after = skipSpace(source, pos + 2 + match[0].length);
      if (source[after] !== ">") throw new Error(`bad closing tag </${match[0]} at ${pos}`);
      const open = stack.pop();
      if (!open || open.name !== match[0]) {
        throw new Error(`closing </${match[0]}> at ${pos} does not match <${open?.name ?? "(nothing)"}>`);
      }
      pos = after + 1;
      continue;
    }
    const { element, selfClosing, end } = parseStartTag(source, pos);
    if (stack.length > 0) stack[stack.length - 1].children.push(element);
    else if (root) throw new Error(`second root element <${element.name}> at ${pos}`);
    else root = element;
    if (!selfClosing) stack.push(element);
    pos = end;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (!root) throw new Error("no root element");
  return root;
}

function parseStartTag(source: string, start: number): { element: MutableElement; selfClosing: boolean; end: number } {
  const match = NAME.exec(source.slice(start + 1));
  if (!match) throw new Error(`bad tag name at ${start}`);
  const element: MutableElement = { name: match[0], attributes: new Map(), children: [] };
  let pos = start + 1 + match[0].length;
  for (;;) {
    const afterSpace = skipSpace(source, pos);
    if (source.startsWith("/>", afterSpace)) return { element, selfClosing: true, end: afterSpace + 2 };
    if (source[afterSpace] === ">") return { element, selfClosing: false, end: afterSpace + 1 };
    if (afterSpace === pos) throw new Error(`expected whitespace before attribute in <${element.name}> at ${pos}`);
    const attrName = NAME.exec(source.slice(afterSpace));
    if (!attrName) throw new Error(`bad attribute name in <${element.name}> at ${afterSpace}`);
    pos = skipSpace(source, afterSpace + attrName[0].length);
    if (source[pos] !== "=") throw new Error(`attribute ${attrName[0]} without value at ${pos}`);
    pos = skipSpace(source, pos + 1);
    const quote = source[pos];
    if (quote !== '"' && quote !== "'") throw new Error(`unquoted attribute ${attrName[0]} at ${pos}`);
    const close = source.indexOf(quote, pos + 1);
    if (close < 0) throw new Error(`unterminated attribute ${attrName[0]} at ${pos}`);
    const raw = source.slice(pos + 1, close);
    if (raw.includes("<")) throw new Error(`raw "<" in attribute ${attrName[0]} at ${pos}`);
    if (element.attributes.has(attrName[0])) throw new Error(`duplicate attribute ${attrName[0]} at ${pos}`);
    element.attributes.set(attrName[0], decodeEntities(raw, pos));
    pos = close + 1;
  }
}

function decodeEntities(raw: string, offset: number): string {
  return raw.replace(/&([^;&\s]*);?/g, (whole, body: string) => {
    if (!whole.endsWith(";")) throw new Error(`stray "&" at ${offset}`);
    if (body in NAMED_ENTITIES) return NAMED_ENTITIES[body];
    const numeric = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(body);
    if (!numeric) throw new Error(`unknown entity &${body}; at ${offset}`);
    return String.fromCodePoint(numeric[1] ? parseInt(numeric[1], 16) : parseInt(numeric[2], 10));
  });
}

function skipSpace(source: string, pos: number): number {
  while (pos < source.length && /\s/.test(source[pos])) pos++;
  return pos;
}

/** All elements named `name` in document order (including `root` itself). */
export function findElements(root: XmlElement, name: string): XmlElement[] {
  const found: XmlElement[] = [];
  const visit = (element: XmlElement) => {
    if (element.name === name) found.push(element);
    for (const child of element.children) if (typeof child !== "string") visit(child);
  };
  visit(root);
  return found;
}

/** Concatenated text of an element and its descendants. */
export function textContent(element: XmlElement): string {
  return element.children.map((child) => (typeof child === "string" ? child : textContent(child))).join("");
}

/** Every attribute value in the document, with its element and attribute name. */
export function allAttributes(root: XmlElement): { element: string; name: string; value: string }[] {
  const out: { element: string; name: string; value: string }[] = [];
  const visit = (element: XmlElement) => {
    for (const [name, value] of element.attributes) out.push({ element: element.name, name, value });
    for (const child of element.children) if (typeof child !== "string") visit(child);
  };
  visit(root);
  return out;
}

/** Direct <title> child text of each element named `name` (the hover tooltips). */
export function tooltipsOf(root: XmlElement, name: string): string[] {
  return findElements(root, name)
    .map((element) => element.children.find((c): c is XmlElement => typeof c !== "string" && c.name === "title"))
    .filter((title): title is XmlElement => title !== undefined)
    .map(textContent);
}
