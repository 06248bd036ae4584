// The full-text benchmark's corpora and queries (bench/fulltext.mjs).
//
//   demo        web-demo/public/corpus/docs.jsonl: 778 chunks of SAP Fiori docs, field `text`
//               (which begins with the chunk's **TITLE**); queries: the 69 `query` strings of
//               bench/relevance/demo-queries.jsonl.
//   debian20k   the first 20,000 base texts of .cache/bench/debian-use512-100k/texts.json
//   debian100k  all 100,000 (Debian package synopses and description paragraphs, 3-256 words;
//               bench/text-dataset.mjs makes the file)
//
// Debian queries are keyword queries made from the file's 1,000 query texts (which are
// disjoint from the base texts): from query text i, two of its distinct words of three or
// more characters ([a-z0-9] runs after lower-casing), drawn with a seeded generator
// (mulberry32, seed 14) and kept in the text's order; one word if it has only one. Stop
// words are not avoided: they come as often as a uniform draw brings them. The full query
// texts (18 words on average) are another set, `--queries texts`: slow for the others
// (at 100k MiniSearch took ~280 ms a query and Orama ~2.7 s, by a first trial), so it
// is run on debian20k only, on its first 50 texts (`--text-queries 50`).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { uniformSource } from '../tests/fixtures/random.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEBIAN = path.join(root, '.cache/bench/debian-use512-100k/texts.json');
export const CORPORA = ['demo', 'debian20k', 'debian100k'];

/** Two distinct words of 3+ characters of each text, drawn with a seeded generator, in text order. */
export function keywordQueries(texts, seed = 14) {
  const random = uniformSource(seed); // mulberry32
  return texts.map((text) => {
    const words = [...new Set(text.toLowerCase().match(/[a-z0-9]+/g) ?? [])].filter((w) => w.length >= 3);
    if (words.length <= 1) return words.join(' ') || text;
    const i = Math.floor(random() * words.length);
    let j = Math.floor(random() * (words.length - 1));
    if (j >= i) j++;
    return [words[Math.min(i, j)], words[Math.max(i, j)]].join(' ');
  });
}

let debianCache;
const debian = () => (debianCache ??= JSON.parse(readFileSync(DEBIAN, 'utf8')));

/**
 * { name, texts, ids, queries, querySet, source } or a string saying why it is missing.
 * querySet: 'keywords' (default) or 'texts' (debian only; the first `textQueries` texts).
 */
export function loadCorpus(name, { querySet = 'keywords', textQueries = 100 } = {}) {
  if (name === 'demo') {
    const docs = readFileSync(path.join(root, 'web-demo/public/corpus/docs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const queries = readFileSync(path.join(root, 'bench/relevance/demo-queries.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).query);
    return {
      name, ids: docs.map((d) => d.id), texts: docs.map((d) => d.text), queries, querySet: 'demo-queries',
      source: 'web-demo/public/corpus/docs.jsonl (field text); queries: bench/relevance/demo-queries.jsonl',
    };
  }
  const n = { debian20k: 20_000, debian100k: 100_000 }[name];
  if (!n) throw new Error(`no corpus ${name}; the corpora are ${CORPORA.join(', ')}`);
  if (!existsSync(DEBIAN)) return `${DEBIAN} is missing: make it with \`node bench/text-dataset.mjs\` (about an hour)`;
  const t = debian();
  const queries = querySet === 'texts' ? t.queries.slice(0, textQueries) : keywordQueries(t.queries);
  return {
    name, ids: Array.from({ length: n }, (_, i) => `d${i}`), texts: t.base.slice(0, n), queries, querySet,
    source: `.cache/bench/debian-use512-100k/texts.json, the first ${n} base texts; queries: ${querySet === 'texts' ? `the first ${queries.length} query texts, whole` : 'two words drawn from each of the 1,000 query texts'}`,
  };
}
