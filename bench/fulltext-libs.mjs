// The full-text benchmark's contenders and its query timing (bench/fulltext.mjs),
// one adapter shape for all, each library on its documented API and defaults.
// No Node API here: the Chromium page (bench/fulltext-page.js) runs the same code.
//
//   name, config        what it is and how it is set up (printed in the report)
//   build(corpus)       -> state: creates the index and adds every document (timed by the caller)
//   search(state, q)    -> the ids of the best 10, best first (a promise for Orama)
//   stats(state)        tabvec only: its own accounting of the bytes it holds
//   free(state)
//
// A corpus is { ids: string[], texts: string[], docs: { id, text }[], vectors: Float32Array }:
// the same strings for all three, made before any index, so no index is charged for them.

export const K = 10;

/**
 * tabvec's BM25 index. Every document needs a vector: a constant 1-d one, so
 * the vector part costs little (the 'tabvec, vectors only' row measures it).
 */
export function tabvecAdapter(tabvec, language) {
  return {
    name: `tabvec-${language}`,
    config: `VectorStore.create({ dim: 1, metric: 'l2', text: { language: '${language}' } }); one addMany(ids, vectors, undefined, { texts }); searchText(q, { k: 10 }). BM25 k1 1.2, b 0.75; OR of the query's terms (block-max MaxScore)`
      + (language === 'english' ? '; English stop words dropped, Porter stemming' : '; no stop words, no stemming'),
    stems: language === 'english',
    async build(corpus) {
      const store = await tabvec.VectorStore.create({ dim: 1, metric: 'l2', text: { language } });
      store.addMany(corpus.ids, corpus.vectors, undefined, { texts: corpus.texts });
      return store;
    },
    search: (store, q) => store.searchText(q, { k: K }).map((h) => h.id),
    stats(store) {
      const s = store.stats();
      return {
        text_used: s.memory.text.used, text_reserved: s.memory.text.reserved,
        total_used: s.memory.total.used, total_reserved: s.memory.total.reserved,
        ids_reserved: s.memory.ids.reserved, wasm_memory_bytes: s.wasmMemoryBytes,
      };
    },
    free: (store) => store.dispose(),
  };
}

/** The same store with no text: what the constant vectors and the ids cost alone. */
export function tabvecVectorsOnly(tabvec) {
  return {
    name: 'tabvec-vectors-only',
    config: "VectorStore.create({ dim: 1, metric: 'l2' }) and the same addMany without texts: the vector part of the rows above, to subtract",
    vectorsOnly: true,
    async build(corpus) {
      const store = await tabvec.VectorStore.create({ dim: 1, metric: 'l2' });
      store.addMany(corpus.ids, corpus.vectors);
      return store;
    },
    stats(store) {
      const s = store.stats();
      return { total_used: s.memory.total.used, total_reserved: s.memory.total.reserved, ids_reserved: s.memory.ids.reserved, wasm_memory_bytes: s.wasmMemoryBytes };
    },
    free: (store) => store.dispose(),
  };
}

/** MiniSearch with its defaults: its search returns every match, sorted; the top 10 are taken. */
export function minisearchAdapter(MiniSearch) {
  return {
    name: 'minisearch',
    config: "new MiniSearch({ fields: ['text'] }); addAll(docs); search(q).slice(0, 10). Defaults: tokenizer splits at Unicode spaces and punctuation, lower-cases; no stop words, no stemming; OR combination; no prefix or fuzzy matching; BM25+ k 1.2, b 0.7, d 0.5; stores no fields",
    stems: false,
    build(corpus) {
      const index = new MiniSearch({ fields: ['text'] });
      index.addAll(corpus.docs);
      return index;
    },
    search: (index, q) => index.search(q).slice(0, K).map((h) => h.id),
    free: () => {},
  };
}

/** Orama with its defaults; its search may return a promise, so it is always awaited. */
export function oramaAdapter(orama) {
  return {
    name: 'orama',
    config: "create({ schema: { text: 'string' } }); await insertMultiple(db, docs); await search(db, { term: q, limit: 10 }). Defaults: tokenizer 'english' (lower-cases, splits at anything but [A-Za-z0-9_'-] and a few accented letters, de-duplicates a text's tokens), no stop words, no stemming; each query token matched as a prefix (exact: false, tolerance 0); threshold 1 (OR: any token); BM25 k 1.2, b 0.75, d 0.5; keeps a reference to every document object",
    stems: false,
    async build(corpus) {
      const db = await orama.create({ schema: { text: 'string' } });
      await orama.insertMultiple(db, corpus.docs);
      return db;
    },
    search: async (db, q) => (await orama.search(db, { term: q, limit: K })).hits.map((h) => h.id),
    free: () => {},
  };
}

// Passes over the query set: each pass runs the whole set as many times as it
// takes to last MIN_PASS_SECONDS (at least once); passes go on until
// MIN_TOTAL_SECONDS have gone, at most MAX_PASSES. QPS is the fastest pass's,
// latency percentiles are over every query of every pass. A set that takes
// longer than MIN_TOTAL_SECONDS runs once.
const MIN_PASS_SECONDS = 0.1;
const MIN_TOTAL_SECONDS = 0.5;
const MAX_PASSES = 5;
const WARM_UP = 100;

/**
 * Times `adapter.search` over `queries` (after a warm-up on the first ones);
 * returns { qps, p50_us, p99_us, passes, runs_of_set, mean_hits, results }
 * where results are the first run's ids, per query.
 */
export async function timeQueries(adapter, state, queries) {
  const run = async (q) => {
    const found = adapter.search(state, q);
    return found instanceof Promise ? await found : found;
  };
  for (let i = 0; i < Math.min(WARM_UP, queries.length); i++) await run(queries[i]);
  const results = [];
  const latencies = [];
  let fastest = Infinity;
  let passes = 0;
  let runsOfSet = 0;
  const started = performance.now();
  while (passes < MAX_PASSES && (passes === 0 || performance.now() - started < MIN_TOTAL_SECONDS * 1000)) {
    const t0 = performance.now();
    let done = 0;
    do {
      for (let i = 0; i < queries.length; i++) {
        const tq = performance.now();
        const found = await run(queries[i]);
        latencies.push(performance.now() - tq);
        if (runsOfSet === 0) results.push(found);
      }
      done += queries.length;
      runsOfSet++;
    } while (performance.now() - t0 < MIN_PASS_SECONDS * 1000);
    fastest = Math.min(fastest, (performance.now() - t0) / 1000 / done);
    passes++;
  }
  latencies.sort((a, b) => a - b);
  return {
    qps: 1 / fastest,
    p50_us: latencies[Math.floor(latencies.length / 2)] * 1000,
    p99_us: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] * 1000,
    passes,
    runs_of_set: runsOfSet,
    mean_hits: results.reduce((s, r) => s + r.length, 0) / results.length,
    results,
  };
}

/**
 * Mean over queries of |A ∩ B| / max(|A|, |B|) for two lists of top-10 id
 * lists; a query both answer with nothing counts as full agreement.
 */
export function meanOverlap(a, b) {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const bs = new Set(b[i]);
    const denominator = Math.max(a[i].length, b[i].length);
    sum += denominator === 0 ? 1 : a[i].filter((id) => bs.has(id)).length / denominator;
  }
  return sum / a.length;
}

/** tabvec's tokenizer alone over the corpus (what addMany spends in JS), in ms. */
export function tokenizeMs(tokenize, texts, language) {
  const t0 = performance.now();
  let terms = 0;
  for (const t of texts) terms += tokenize(t, language, 1 << 16).length;
  return { ms: performance.now() - t0, terms };
}

/** Adds what the libraries take to { ids, texts }: { id, text } objects and constant 1-d vectors. */
export function prepareCorpus(c) {
  return { ...c, docs: c.ids.map((id, i) => ({ id, text: c.texts[i] })), vectors: new Float32Array(c.ids.length).fill(1) };
}

/**
 * The steps the driver (bench/fulltext.mjs) takes one at a time, so that it can
 * collect garbage and read the heap between them: in Node directly, in
 * Chromium through page.evaluate and the DevTools protocol.
 */
export function makeSession(adapters, corpus) {
  const byName = Object.fromEntries(adapters.map((a) => [a.name, a]));
  const states = {};
  return {
    names: adapters.map((a) => a.name),
    configs: Object.fromEntries(adapters.map((a) => [a.name, { config: a.config, stems: a.stems ?? null, vectorsOnly: Boolean(a.vectorsOnly) }])),
    async build(name) {
      const t0 = performance.now();
      states[name] = await byName[name].build(corpus);
      return { build_ms: performance.now() - t0, stats: byName[name].stats?.(states[name]) ?? null };
    },
    query: (name) => timeQueries(byName[name], states[name], corpus.queries),
    async free(name) {
      await byName[name].free(states[name]);
      delete states[name];
    },
  };
}

/** Loads tabvec's modules (with and without text) before any heap is read. */
export async function warmTabvec(tabvec) {
  (await tabvec.VectorStore.create({ dim: 1, metric: 'l2', text: true })).dispose();
  (await tabvec.VectorStore.create({ dim: 1, metric: 'l2' })).dispose();
}
