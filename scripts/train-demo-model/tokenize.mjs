// GPT-2 tokenization for the demo-model training corpus (the library's own r50k_base tokenizer).
//   node tokenize.mjs years OUT.json        years 1000..1999 whose " XXYY" is " XX" + "YY", and the ids
//                                            of " XX" (10..19) and "00".."99"
//   node tokenize.mjs corpus IN.txt OUT      one document per line -> OUT.tokens.u16 (all ids, uint16)
//                                            and OUT.lengths.u32 (tokens per document)
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const { toTokens } = await import(path.join(root, "dist/gpt2/tokenizer.js"));
const { yearSplitChecker, yearTokenIds } = await import(path.join(root, "dist/tasks/greater-than/years.js"));

const [mode, a, b] = process.argv.slice(2);
if (mode === "years") {
  const splits = yearSplitChecker(toTokens);
  const years = [];
  for (let y = 1000; y <= 1999; y++) if (splits(y)) years.push(y);
  const centuries = {};
  for (let c = 10; c <= 19; c++) centuries[c] = toTokens(` ${c}`);
  writeFileSync(a, JSON.stringify({ years, year_tokens: yearTokenIds(toTokens), century_tokens: centuries }));
} else if (mode === "corpus") {
  const docs = readFileSync(a, "utf8").split("\n").filter((l) => l.length > 0);
  const lengths = new Uint32Array(docs.length);
  const chunks = [];
  let total = 0;
  docs.forEach((doc, i) => {
    const ids = toTokens(doc);
    lengths[i] = ids.length;
    chunks.push(ids);
    total += ids.length;
  });
  const out = new Uint16Array(total);
  let o = 0;
  for (const ids of chunks) for (const id of ids) out[o++] = id;
  writeFileSync(`${b}.tokens.u16`, Buffer.from(out.buffer));
  writeFileSync(`${b}.lengths.u32`, Buffer.from(lengths.buffer));
  console.log(`${docs.length} documents, ${total} tokens`);
} else {
  console.error("usage: node tokenize.mjs years OUT.json | corpus IN.txt OUT");
  process.exit(2);
}
