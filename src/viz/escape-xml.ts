/**
 * Escaping for text that goes into SVG/HTML markup, as element content or as a quoted attribute value.
 *
 * Besides the five markup characters, characters that XML 1.0 forbids outright (C0 controls other
 * than tab/newline/carriage return, U+FFFE/U+FFFF, unpaired surrogates) are replaced by U+FFFD,
 * because no amount of escaping makes them legal in an XML document.
 */

const FORBIDDEN_XML_CHARACTERS =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const MARKUP_CHARACTERS = /[&<>"']/g;

const ENTITY_FOR: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Replace characters that can never appear in an XML document by U+FFFD. */
export function replaceForbiddenXmlCharacters(text: string): string {
  return text.replace(FORBIDDEN_XML_CHARACTERS, "\uFFFD");
}

/** Escape `text` so it is safe as XML/HTML element content and inside a double- or single-quoted attribute. */
export function escapeXml(text: string): string {
  return replaceForbiddenXmlCharacters(String(text)).replace(MARKUP_CHARACTERS, (ch) => ENTITY_FOR[ch]);
}
